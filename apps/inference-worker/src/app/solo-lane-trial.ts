import { soloLanePays } from '@reputation-monitor/model-runtime';

/** The fastest time seen of a lone run (one text of 16 tokens) on the solo lane's session and on a lane's, in ms. */
export interface LoneRunTimes {
  soloMs: number;
  laneMs: number;
}

/** The faster of two sets of times, session by session. */
export function fasterOf(a: LoneRunTimes, b: LoneRunTimes): LoneRunTimes {
  return { soloMs: Math.min(a.soloMs, b.soloMs), laneMs: Math.min(a.laneMs, b.laneMs) };
}

/** Waits before each timing of the trial (the first from its start): two minutes in all. */
export const SOLO_TRIAL_DELAYS_MS: readonly number[] = [1_000, 2_000, 4_000, 8_000, 15_000, 30_000, 60_000];

export interface SoloTrialOptions {
  /** Times a lone run once on each session; undefined when the model is busy (tried again, not counted). */
  check: () => Promise<LoneRunTimes | undefined>;
  /** Called once, unless stopped: whether the solo lane pays by the fastest times seen (`error`: a timing failed). */
  onVerdict: (kept: boolean, fastest: LoneRunTimes, error?: Error) => void;
  delaysMs?: readonly number[];
  pays?: (soloMs: number, laneMs: number) => boolean;
  /**
   * Resolves at the model's next idle moment (or gives up waiting): a timing that found the model busy is tried
   * once more then, rather than a whole delay later. Under one-at-a-time traffic the model is idle only between
   * requests, which a timer almost never hits, and the solo lane is what such traffic needs.
   */
  whenIdle?: () => Promise<void>;
}

/**
 * A second chance for a solo lane that did not pay when the model loaded. Two-thread runs are what another
 * process holding a core slows down most (each op waits for the thread that lost its core): beside a CPU hog a lone
 * RoBERTa-base run took 37.7 ms on both cores against 36.7 ms on one, where it takes 25 ms on a quiet machine. A
 * solo lane judged at such a moment was closed for the worker's lifetime, and every idle request then ran on one
 * core. Now its session stays open, unused, and a lone run is timed again on it and on a lane when the model is
 * idle, a few times over the next minutes. Interference only adds time, so the fastest times seen decide: one
 * quiet moment keeps the solo lane; the session is closed only when it still does not pay after the last timing.
 */
export class SoloLaneTrial {
  private fastest: LoneRunTimes;
  private checks = 0;
  private timer: NodeJS.Timeout | undefined;
  private ended = false;

  constructor(
    atLoad: LoneRunTimes,
    private readonly options: SoloTrialOptions,
  ) {
    this.fastest = atLoad;
    this.scheduleCheck();
  }

  /** Ends the trial without a verdict (the model is closing). */
  stop(): void {
    this.ended = true;
    clearTimeout(this.timer);
  }

  private get delays(): readonly number[] {
    return this.options.delaysMs ?? SOLO_TRIAL_DELAYS_MS;
  }

  private scheduleCheck(): void {
    this.timer = setTimeout(() => void this.check(), this.delays[this.checks]);
    this.timer.unref();
  }

  private async check(): Promise<void> {
    let times: LoneRunTimes | undefined;
    try {
      times = await this.options.check();
      if (times === undefined && this.options.whenIdle && !this.ended) {
        await this.options.whenIdle();
        if (!this.ended) times = await this.options.check();
      }
    } catch (error) {
      this.end(false, error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (this.ended) return;
    if (times) {
      this.checks++;
      this.fastest = fasterOf(this.fastest, times);
    }
    const pays = this.options.pays ?? soloLanePays;
    if (pays(this.fastest.soloMs, this.fastest.laneMs)) this.end(true);
    else if (this.checks >= this.delays.length) this.end(false);
    else this.scheduleCheck();
  }

  private end(kept: boolean, error?: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.options.onVerdict(kept, this.fastest, error);
  }
}
