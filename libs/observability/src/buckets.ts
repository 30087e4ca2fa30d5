/** Histogram buckets, named so every app and dashboard agrees on them. */

/** Request and end-to-end latencies: 5 ms to 30 s. */
export const LATENCY_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** One inference batch or a tokenization pass: 1 ms to 10 s. */
export const COMPUTE_BUCKETS_SECONDS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Time a job waits in the queue: 1 ms to 5 min. */
export const QUEUE_WAIT_BUCKETS_SECONDS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300];

/** Texts per inference batch. */
export const BATCH_TEXTS_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

/** Padded tokens per inference batch. */
export const BATCH_TOKENS_BUCKETS = [16, 64, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768];

/** Shares from 0 to 1 (padding). */
export const RATIO_BUCKETS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1];
