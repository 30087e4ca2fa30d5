import type { QueueEvents } from 'bullmq';

/** The two events of BullMQ's QueueEvents this reads. */
export type FinishEvents = Pick<QueueEvents, 'on'>;

export type FinishOutcome<R> = { completed: true; result: R } | { completed: false; reason: string };

interface Watched<R> {
  since: number;
  outcome?: FinishOutcome<R>;
  waiters: Array<(outcome: FinishOutcome<R> | { closed: true }) => void>;
}

/** A watched job nobody waits on (finished or not) is dropped after this long; a late wait then asks Redis. */
const KEEP_UNCLAIMED_MS = 5 * 60_000;

/**
 * The finish events of jobs a caller will wait for, listened to from before their `add`: waiting for one
 * then costs no Redis call. BullMQ's `waitUntilFinished` cannot know when its listener started relative to
 * the job, so it runs its `isFinished` script on every call. A job that is no longer watched (never was,
 * evicted by the bound) is not known here; the caller then asks Redis as before.
 */
export class FinishWatch<R> {
  private readonly watched = new Map<string, Watched<R>>();

  constructor(
    events: FinishEvents,
    private readonly maxWatched: number,
    private readonly now: () => number = Date.now,
  ) {
    events.on('completed', ({ jobId, returnvalue }) =>
      this.settle(jobId, { completed: true, result: returnvalue as R }),
    );
    events.on('failed', ({ jobId, failedReason }) =>
      this.settle(jobId, { completed: false, reason: failedReason }),
    );
  }

  /** Starts watching `jobId`; call before the job is added. */
  watch(jobId: string): void {
    if (this.watched.has(jobId)) return;
    this.evict();
    this.watched.set(jobId, { since: this.now(), waiters: [] });
  }

  /** Stops watching `jobId` unless someone waits on it (two callers may share one deterministic job id). */
  forget(jobId: string): void {
    if (this.watched.get(jobId)?.waiters.length === 0) this.watched.delete(jobId);
  }

  /**
   * The job's outcome, `timeout` after `timeoutMs`, `closed` when the watch closes first, or undefined (at
   * once) when the job is not watched.
   * The job is forgotten once its outcome is handed out.
   */
  wait(
    jobId: string,
    timeoutMs: number,
  ): Promise<FinishOutcome<R> | { closed: true } | 'timeout'> | undefined {
    const entry = this.watched.get(jobId);
    if (!entry) return undefined;
    if (entry.outcome) {
      this.watched.delete(jobId);
      return Promise.resolve(entry.outcome);
    }
    return new Promise((resolve) => {
      const waiter = (outcome: FinishOutcome<R> | { closed: true }) => {
        clearTimeout(timer);
        resolve(outcome);
      };
      // 0: no time limit, as BullMQ's waitUntilFinished.
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              entry.waiters = entry.waiters.filter((other) => other !== waiter);
              if (entry.waiters.length === 0) this.watched.delete(jobId);
              resolve('timeout');
            }, timeoutMs)
          : undefined;
      entry.waiters.push(waiter);
    });
  }

  /** Ends every wait with `closed` (the producer is closing; the jobs may still finish). */
  close(): void {
    const entries = [...this.watched.values()];
    this.watched.clear();
    for (const entry of entries) for (const waiter of entry.waiters) waiter({ closed: true });
  }

  /** Jobs watched now (bounded by `maxWatched`). */
  get size(): number {
    return this.watched.size;
  }

  private settle(jobId: string, outcome: FinishOutcome<R>): void {
    const entry = this.watched.get(jobId);
    if (!entry) return;
    if (entry.waiters.length === 0) {
      entry.outcome = outcome;
      return;
    }
    this.watched.delete(jobId);
    for (const waiter of entry.waiters) waiter(outcome);
  }

  /** Drops the oldest entries nobody waits on: past the count bound, or finished and unclaimed for long. */
  private evict(): void {
    const cutoff = this.now() - KEEP_UNCLAIMED_MS;
    for (const [jobId, entry] of this.watched) {
      const over = this.watched.size >= this.maxWatched;
      if (!over && entry.since > cutoff) break;
      if (entry.waiters.length === 0) this.watched.delete(jobId);
    }
  }
}
