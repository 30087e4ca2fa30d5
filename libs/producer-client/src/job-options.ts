import { JobsOptions } from 'bullmq';

/** How long finished jobs stay readable (and idempotent ids stay deduplicated). */
export interface RetentionOptions {
  completedAgeSeconds: number;
  completedCount: number;
  failedAgeSeconds: number;
  failedCount: number;
}

export const DEFAULT_RETENTION: RetentionOptions = {
  completedAgeSeconds: 3_600,
  completedCount: 100_000,
  failedAgeSeconds: 7 * 24 * 3_600,
  failedCount: 10_000,
};

/** Transient failures (a crashed model thread, Redis hiccups) retry with exponential backoff. */
export const DEFAULT_ATTEMPTS = 3;
export const DEFAULT_BACKOFF_MS = 1_000;

export function classifyJobOptions(
  retention: RetentionOptions,
  attempts: number,
  backoffMs: number,
): JobsOptions {
  return {
    attempts,
    backoff: { type: 'exponential', delay: backoffMs },
    removeOnComplete: { age: retention.completedAgeSeconds, count: retention.completedCount },
    removeOnFail: { age: retention.failedAgeSeconds, count: retention.failedCount },
  };
}
