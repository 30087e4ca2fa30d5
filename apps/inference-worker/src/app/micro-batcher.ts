import { Span, SpanStatusCode, trace } from '@opentelemetry/api';
import { LinearRunCost, RunCost, planBatch } from '@reputation-monitor/model-runtime';

export interface BatchPolicy {
  /** Upper bound on padded tokens (texts x longest text) in one batch. */
  maxTokens: number;
  maxTexts: number;
  /**
   * Largest share of pad tokens a batch may carry, on top of the cost model (1: the cost model alone
   * decides). A padded token costs as much as a real one; the cost model already weighs that.
   */
  maxPaddingRatio: number;
  /** How long a text waits for others when the model is idle. */
  maxWaitMs: number;
}

/**
 * The cost model when none is given: RoBERTa-base fp32 on two cores, the worker's session options
 * (docs/adr/0008-packing-by-cost-model.md). Only the ratio matters: a run costs as much as ~9 pad tokens.
 */
export const DEFAULT_RUN_COST = new LinearRunCost(8, 0.93);

export interface BatchStats {
  texts: number;
  realTokens: number;
  paddedTokens: number;
  computeMs: number;
  /** The run went to the solo lane (a session with every core, for a run that is the only work). */
  solo?: true;
  /** The packing policy's cost model (when it is a linear one, as the worker's is). */
  runCost?: { overheadMs: number; perTokenMs: number };
}

/** Runs one batch of token id sequences and returns one score row per sequence, in order. */
export type BatchRunner = (sequences: number[][]) => Promise<{ scores: number[][]; computeMs: number }>;

/**
 * Where runs go (docs/adr/0009-inference-lanes.md): `lanes` run at the same time, one run each (sessions
 * with a share of the cores); `solo`, when given, takes a run that is the only work there is (a session
 * with every core, faster for one run alone), and nothing else runs beside it.
 */
export interface InferenceLanes {
  lanes: readonly BatchRunner[];
  solo?: BatchRunner;
}

interface Pending {
  ids: number[];
  arrivedAt: number;
  resolve: (scores: number[]) => void;
  reject: (error: Error) => void;
  /** The span of the job that submitted it (when traced): linked to and from the batch that runs it. */
  span: Span | undefined;
}

const tracer = trace.getTracer('inference-worker');

/** A place runs go: its runner, and whether a run is in flight on it. */
interface Lane {
  run: BatchRunner;
  busy: boolean;
  solo?: true;
  /** Called once the run in flight ends (set while lanes are being replaced). */
  freed?: () => void;
}

/**
 * Packs texts from concurrent jobs into inference batches. One batch runs per lane at a time; texts
 * that arrive while every lane is busy wait and go in the next one. Each batch holds texts of similar
 * length (so little is padded) and always includes the oldest waiting text (so nothing starves).
 *
 * A failed batch of several texts is retried in halves (poison isolation), so a text that breaks the
 * runner fails only itself and not the texts of other jobs that shared its batch.
 */
export class MicroBatcher {
  private pending: Pending[] = [];
  private lanes: Lane[];
  private solo: Lane | undefined;
  /** Runs in flight, on the lanes and the solo lane, current or replaced (and a `runWhileIdle` task). */
  private running = 0;
  /** Set while a `runWhileIdle` task has the sessions: no run starts. */
  private held = false;
  private timer: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];

  constructor(
    runners: BatchRunner | InferenceLanes,
    private readonly policy: BatchPolicy,
    /** Called for each batch run that succeeded (sub-batches of a split included). */
    private readonly onBatch: (stats: BatchStats) => void = () => undefined,
    /** Called each time a failed batch of `texts` texts is split in halves to isolate the failing ones. */
    private readonly onSplit: (texts: number) => void = () => undefined,
    /** Estimates run times for the packing policy (packing-policy.ts). */
    private cost: RunCost = DEFAULT_RUN_COST,
  ) {
    ({ lanes: this.lanes, solo: this.solo } = toLanes(runners));
  }

  /**
   * Runs go to these lanes (and this solo lane) from now on, planned with `cost`. Runs in flight finish
   * where they are; the promise resolves once they have, so the caller may then close what they ran on.
   */
  replaceLanes(runners: InferenceLanes, cost: RunCost): Promise<void> {
    const replaced = [...this.lanes, ...(this.solo ? [this.solo] : [])].filter((lane) => lane.busy);
    ({ lanes: this.lanes, solo: this.solo } = toLanes(runners));
    this.cost = cost;
    const drained = Promise.all(
      replaced.map((lane) => new Promise<void>((resolve) => (lane.freed = resolve))),
    ).then(() => undefined);
    this.flush();
    return drained;
  }

  /** Lone runs go to `solo` from now on (a solo lane kept after its trial, solo-lane-trial.ts). */
  setSolo(solo: BatchRunner): void {
    if (this.solo?.busy) throw new Error('the solo lane is running');
    this.solo = { run: solo, busy: false, solo: true };
  }

  /**
   * Runs `task` when nothing runs or waits, with the sessions to itself: texts submitted meanwhile wait and
   * run once it is done. Undefined, without running it, when the batcher is busy.
   */
  async runWhileIdle<T>(task: () => Promise<T>): Promise<T | undefined> {
    if (this.busy || this.pending.length > 0) return undefined;
    this.held = true;
    this.running++;
    try {
      return await task();
    } finally {
      this.held = false;
      this.running--;
      if (this.pending.length > 0) this.flush();
      else if (!this.busy) this.idleWaiters.splice(0).forEach((resolve) => resolve());
    }
  }

  /** Scores for each sequence, in the order given. */
  submit(sequences: number[][]): Promise<number[][]> {
    const now = performance.now();
    const span = trace.getActiveSpan();
    const results = sequences.map(
      (ids) =>
        new Promise<number[]>((resolve, reject) => {
          if (ids.length > this.policy.maxTokens) {
            reject(
              new RangeError(
                `a text of ${ids.length} tokens exceeds the batch budget of ${this.policy.maxTokens}`,
              ),
            );
            return;
          }
          this.pending.push({ ids, arrivedAt: now, resolve, reject, span });
        }),
    );
    this.schedule();
    return Promise.all(results);
  }

  /** Texts waiting for a batch (not counting the one running). */
  get waiting(): number {
    return this.pending.length;
  }

  /** True while a batch computes. */
  get busy(): boolean {
    return this.running > 0;
  }

  /** Resolves once nothing is waiting or running. */
  idle(): Promise<void> {
    if (!this.busy && this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.held || this.solo?.busy || !this.lanes.some((lane) => !lane.busy) || this.pending.length === 0)
      return;
    const oldestAge = performance.now() - this.pending[0].arrivedAt;
    const pendingTokens = this.pending.reduce((sum, item) => sum + item.ids.length, 0);
    const full = pendingTokens >= this.policy.maxTokens || this.pending.length >= this.policy.maxTexts;
    if (full || oldestAge >= this.policy.maxWaitMs) {
      this.flush();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.schedule();
    }, this.policy.maxWaitMs - oldestAge);
  }

  /** Starts a run on every free lane while texts wait (or one solo run when it would be the only work). */
  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (!this.held && !this.solo?.busy && this.pending.length > 0) {
      const lane = this.lanes.find((candidate) => !candidate.busy);
      if (!lane) return;
      const batch = this.takeBatch();
      // Solo only when nothing runs anywhere, a replaced lane included.
      this.start(this.solo && !this.busy && this.pending.length === 0 ? this.solo : lane, batch);
    }
  }

  private start(lane: Lane, batch: Pending[]): void {
    lane.busy = true;
    this.running++;
    // runIsolating settles every text itself and never rejects.
    void this.runIsolating(lane, batch).finally(() => {
      lane.busy = false;
      this.running--;
      lane.freed?.();
      // Texts that arrived during the run have waited long enough: go again at once.
      if (this.pending.length > 0) this.flush();
      else if (!this.busy) this.idleWaiters.splice(0).forEach((resolve) => resolve());
    });
  }

  /**
   * Runs one batch and settles its texts. When the run fails and the batch holds more than one text,
   * each half is run on its own, one after the other on the same lane (which stays busy),
   * recursively, so only a text whose own single-text run fails is rejected, with the runner's error.
   * Cost: a batch of n texts with one poison text takes at most 1 + 2·ceil(log2 n) runs, k poison texts
   * at most 1 + 2k·ceil(log2 n); a failure that is not about the texts (every run fails) visits the whole
   * tree, 2n - 1 runs, bounded by `maxTexts`.
   */
  private async runIsolating(lane: Lane, batch: Pending[]): Promise<void> {
    const sequences = batch.map((item) => item.ids);
    let result: Awaited<ReturnType<BatchRunner>>;
    const span = this.batchSpan(batch, lane);
    try {
      result = await lane.run(sequences);
      span.end();
    } catch (thrown) {
      const error = thrown instanceof Error ? thrown : new Error(String(thrown));
      span.recordException(error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
      span.end();
      if (batch.length === 1) {
        batch[0].reject(error);
        return;
      }
      this.report(() => this.onSplit(batch.length));
      const middle = Math.ceil(batch.length / 2);
      await this.runIsolating(lane, batch.slice(0, middle));
      await this.runIsolating(lane, batch.slice(middle));
      return;
    }
    const { scores, computeMs } = result;
    batch.forEach((item, index) => item.resolve(scores[index]));
    const longest = Math.max(...sequences.map((ids) => ids.length));
    const realTokens = sequences.reduce((sum, ids) => sum + ids.length, 0);
    const cost = this.cost;
    this.report(() =>
      this.onBatch({
        texts: batch.length,
        realTokens,
        paddedTokens: batch.length * longest,
        computeMs,
        ...(lane.solo && { solo: true }),
        ...(cost instanceof LinearRunCost && {
          runCost: { overheadMs: cost.overheadMs, perTokenMs: cost.perTokenMs },
        }),
      }),
    );
  }

  /**
   * A batch serves many jobs, so its span is a root of its own, linked to each job's span, and each job's
   * span links back to it: from a request's trace one reaches the batch it joined, and from the batch every
   * request it served. (No-op spans when tracing is off.)
   */
  private batchSpan(batch: Pending[], lane: Lane): Span {
    const jobs = [...new Set(batch.map((item) => item.span).filter((span) => span !== undefined))];
    const span = tracer.startSpan('inference batch', {
      root: true,
      links: jobs.map((job) => ({ context: job.spanContext() })),
      attributes: {
        'sentiment.batch.texts': batch.length,
        'sentiment.batch.padded_tokens': batch.length * Math.max(...batch.map((item) => item.ids.length)),
        'sentiment.batch.solo_lane': lane.solo === true,
      },
    });
    for (const job of jobs) job.addLink({ context: span.spanContext() });
    return span;
  }

  /** Calls a stats callback; a failing callback must not stop the batcher. */
  private report(callback: () => void): void {
    try {
      callback();
    } catch {
      // Metrics only: the texts are already settled.
    }
  }

  /**
   * The packing policy (packing-policy.ts): the waiting texts sorted by length, split where the estimated
   * total run time is least; the run that holds the oldest text goes next.
   */
  private takeBatch(): Pending[] {
    const picked = planBatch(
      this.pending.map((item) => item.ids.length),
      this.cost,
      this.policy,
    );
    const batch = picked.map((index) => this.pending[index]);
    const taken = new Set(picked);
    this.pending = this.pending.filter((_, index) => !taken.has(index));
    return batch;
  }
}

function toLanes(runners: BatchRunner | InferenceLanes): { lanes: Lane[]; solo: Lane | undefined } {
  const { lanes, solo } = typeof runners === 'function' ? { lanes: [runners], solo: undefined } : runners;
  if (lanes.length === 0) throw new RangeError('a micro-batcher needs at least one lane');
  return {
    lanes: lanes.map((run) => ({ run, busy: false })),
    solo: solo && { run: solo, busy: false, solo: true },
  };
}
