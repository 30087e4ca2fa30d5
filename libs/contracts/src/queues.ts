/**
 * Queue names. WARNING: renaming a queue strands every job already waiting under the old name;
 * add a new queue and drain the old one instead.
 */
export enum QueueName {
  Sentiment = 'sentiment',
}

/** Job names on the sentiment queue. Each has exactly one handler in the inference worker. */
export enum SentimentJobName {
  Classify = 'classify',
}

/** Default BullMQ key prefix; deployments and test runs set their own to share one Redis. */
export const DEFAULT_QUEUE_PREFIX = 'rm';

/** Redis keys outside BullMQ's own, derived from the same prefix so one prefix isolates a deployment. */
export const redisKeys = {
  /** Sorted set: worker id -> last heartbeat (ms since epoch). */
  workerHeartbeats: (prefix: string) => `${prefix}:workers:heartbeats`,
  /** Capped stream of every prediction, the drift monitor's input. */
  predictionStream: (prefix: string) => `${prefix}:predictions`,
  /**
   * A capped ring of hashes (redis-connection's CappedHashRing: state `<key>:ring`, buckets `<key>:gen:<n>`):
   * prediction id -> encoded IndexedPrediction (see feedback.ts), at most PREDICTION_INDEX_MAX_ENTRIES.
   */
  predictionIndex: (prefix: string) => `${prefix}:prediction-index`,
  /** Hash per hour, as workers before the ring wrote them; still read until they expire (PREDICTION_INDEX_HOURS). */
  legacyPredictionIndexHour: (prefix: string, hour: number) => `${prefix}:prediction-index:${hour}`,
  /** One FeedbackRecord (JSON) per prediction id; a new label replaces the old. */
  feedback: (prefix: string, id: string) => `${prefix}:feedback:${id}`,
  /** Sorted set: prediction id -> time of its latest feedback (ms), for windows of feedback. */
  feedbackByTime: (prefix: string) => `${prefix}:feedback-by-time`,
  /**
   * A capped ring of hashes (like `predictionIndex`), at most RESULT_CACHE_MAX_ENTRIES: resultCacheField ->
   * one text's cached score (JSON) as computed by one model version (see the inference worker's result-cache.ts).
   */
  resultCache: (prefix: string) => `${prefix}:result-cache`,
  /**
   * The field of one text's score in `resultCache`: `textHash` is the worker's sha256 of the text as the model
   * sees it. The version is in the field, so a new model never reads an old model's results.
   */
  resultCacheField: (modelVersion: string, textHash: string) => `${modelVersion}:${textHash}`,
  /**
   * A capped ring of hashes (like `predictionIndex`), at most ID_CLAIM_MAX_ENTRIES: a client's prediction id
   * (scopedPredictionId) -> the digest of the text it was first sent with (see the producer client's enqueue).
   */
  idClaims: (prefix: string) => `${prefix}:id-claims`,
  /**
   * Hash: example field (`<id>` without a tenant, `<id>~<tenant>`) -> encoded LabelledExample waiting to be
   * exported to the dataset store.
   */
  examplesPending: (prefix: string) => `${prefix}:examples:pending`,
  /** Sorted set: pending example field -> when it was labelled (ms), to expire pending examples after their TTL. */
  examplesPendingByTime: (prefix: string) => `${prefix}:examples:pending-by-time`,
  /**
   * Sorted set: one tenant's pending example fields by labelling time (`~` for examples without a tenant), so a
   * full buffer evicts from the tenant holding the most.
   */
  examplesPendingOfTenant: (prefix: string, tenant: string | undefined) =>
    `${redisKeys.examplesPendingOfTenantPrefix(prefix)}${tenant ?? '~'}`,
  /** What each tenant's pending-of key starts with: the buffer's scripts add the tenant (or `~`) themselves. */
  examplesPendingOfTenantPrefix: (prefix: string) => `${prefix}:examples:pending-of:`,
  /** Set: the tenants (`~` for none) with a pending-of sorted set, so an export can drop them all. */
  examplesPendingTenants: (prefix: string) => `${prefix}:examples:pending-tenants`,
  /** Hash: the pending examples of one export batch, renamed away from `examplesPending` as a whole. */
  examplesExportBatch: (prefix: string, batchId: string) => `${prefix}:examples:export:${batchId}`,
  /** String: id of the export batch in progress; a replica that finds one finishes it first. */
  examplesExportInProgress: (prefix: string) => `${prefix}:examples:export-in-progress`,
  /** String: the encoded ModelAssignment the workers follow (see model-assignment.ts). */
  modelAssignment: (prefix: string) => `${prefix}:model:assignment`,
  /** Stream: every assignment as it was written (the audit history: who, when, why). */
  modelAssignmentHistory: (prefix: string) => `${prefix}:model:assignment-history`,
  /** Pub/sub channel: the new revision, published after every change (workers also poll). */
  modelAssignmentChanged: (prefix: string) => `${prefix}:model:assignment-changed`,
  /**
   * Hash: a version (its id and location) -> when a worker last began serving it as production. What a rollback
   * goes back to: a version that served, not one every worker refused. Written and read by the assignment store.
   */
  modelServed: (prefix: string) => `${prefix}:model:served`,
  /** Hash: worker id -> encoded WorkerModelStatus (pruned with the heartbeats). */
  modelWorkerStatus: (prefix: string) => `${prefix}:model:worker-status`,
  /** Hash of counters: stored, duplicate, relabelled, expired, exported, deleted. */
  examplesCounters: (prefix: string) => `${prefix}:examples:counters`,
};

/** A worker whose last heartbeat is older than this is considered gone. */
export const WORKER_HEARTBEAT_TTL_MS = 15_000;
