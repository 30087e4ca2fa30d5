import { QueueName } from '@reputation-monitor/contracts';

export interface QueueWorkerSettings {
  concurrency: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
}

/**
 * Worker defaults for every queue this app consumes. Keyed by QueueName, so adding a queue without
 * deciding its settings does not compile. Environment variables override them per deployment.
 */
export const QUEUE_WORKER_SETTINGS: Record<QueueName, QueueWorkerSettings> = {
  [QueueName.Sentiment]: {
    // High: one job is one request, and texts from many jobs share each inference batch.
    concurrency: 64,
    lockDurationMs: 30_000,
    stalledIntervalMs: 30_000,
    maxStalledCount: 1,
  },
};
