/**
 * The drift monitor's own queue. It lives here, not in contracts, because nothing outside this app
 * produces or consumes it (the schedule and its worker are both in the drift monitor).
 *
 * WARNING: renaming a queue strands every job already waiting under the old name, and the job scheduler
 * stored under it keeps firing into the old name; add a new queue and remove the old scheduler instead.
 */
export enum DriftQueueName {
  Evaluations = 'drift-evaluations',
}

/** Job names on the evaluations queue. Each has exactly one handler (DriftScheduler). */
export enum DriftJobName {
  EvaluateWindow = 'evaluate-window',
}

/** Id of the one job scheduler; every replica upserts the same id, so there is one schedule, not N. */
export const WINDOW_SCHEDULER_ID = 'drift-window';

export interface DriftQueueSettings {
  concurrency: number;
  /** Renewed while a run computes; a replica that dies mid-run frees the job after this long. */
  lockDurationMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
  /** Finished scheduled jobs kept for inspection (the reports themselves are kept elsewhere). */
  keepCompleted: number;
  keepFailed: number;
}

/** Settings of every queue this app consumes, keyed by name, so a new queue without settings does not compile. */
export const DRIFT_QUEUE_SETTINGS: Record<DriftQueueName, DriftQueueSettings> = {
  [DriftQueueName.Evaluations]: {
    // One evaluation at a time per replica; runs are serialised in-process anyway.
    concurrency: 1,
    lockDurationMs: 60_000,
    stalledIntervalMs: 30_000,
    // A run that stalled once (its replica died) is evaluated again by another; a second stall gives up
    // until the next window.
    maxStalledCount: 1,
    keepCompleted: 200,
    keepFailed: 200,
  },
};

/** Redis keys of the drift monitor, under the deployment's prefix like every other key. */
export const driftKeys = {
  /** JSON ReferenceProfile of one model version. */
  profile: (prefix: string, version: string) => `${prefix}:drift:profile:${version}`,
  /** JSON StoredBaseline: the golden-set quality of the first run of a model version. */
  baseline: (prefix: string, version: string) => `${prefix}:drift:baseline:${version}`,
  /** Sorted set: JSON DriftHistoryEntry scored by window end (ms), one per evaluated window. */
  history: (prefix: string, version: string) => `${prefix}:drift:history:${version}`,
  /** List of report ids, newest first, trimmed to REPORT_RETENTION. */
  reports: (prefix: string) => `${prefix}:drift:reports`,
  /** One JSON report. */
  report: (prefix: string, id: string) => `${prefix}:drift:report:${id}`,
  /** Owner (report id) of the lease that lets one replica at a time evaluate (RunLease). */
  runLease: (prefix: string) => `${prefix}:drift:run-lease`,
  /** Unix time (s) of the last successful run, shared by every replica. */
  lastSuccess: (prefix: string) => `${prefix}:drift:last-success`,
};
