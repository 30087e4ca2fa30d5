export { DEFAULT_ID_CLAIM_MAX_ENTRIES, SentimentProducer } from './sentiment-producer';
export type {
  SentimentProducerOptions,
  ProducerRedis,
  ProducerBehaviour,
  EnqueueOptions,
  EnqueuedJob,
} from './sentiment-producer';
export type {
  RedisSettings,
  ReplicaWaitResult,
  ReplicaWaitOutcome,
} from '@reputation-monitor/redis-connection';
export type { DraftItem } from './job-ids';
export { DEFAULT_RETENTION, DEFAULT_ATTEMPTS, DEFAULT_BACKOFF_MS } from './job-options';
export type { RetentionOptions } from './job-options';
export {
  ProducerError,
  InvalidRequestError,
  QueueFullError,
  IdempotencyConflictError,
  ResultTimeoutError,
  JobFailedError,
  NotReplicatedError,
} from './errors';
