import {
  DEFAULT_MAX_BATCH_ITEMS,
  DEFAULT_MAX_TEXT_CHARS,
  DEFAULT_QUEUE_PREFIX,
} from '@reputation-monitor/contracts';
import { EnvReader, readRedisSettings } from '@reputation-monitor/config';
import type { RedisSettings } from '@reputation-monitor/redis-connection';
import {
  AccessConfig,
  HttpServerConfig,
  readAccessConfig,
  readHttpServerConfig,
} from '@reputation-monitor/http-edge';
import {
  DEFAULT_EXAMPLE_MAX_PENDING,
  DEFAULT_FEEDBACK_MAX_RECORDS,
} from '@reputation-monitor/prediction-store';
import { LogConfig, readLogConfig } from '@reputation-monitor/observability';
import { DEFAULT_ID_CLAIM_MAX_ENTRIES } from '@reputation-monitor/producer-client';

/** A directory of model directories, e.g. what `npm run retrain -- --out models/registry/<name>` writes. */
export const DEFAULT_MODEL_REGISTRY = 'models/registry';

function hubConnection(read: EnvReader): { endpoint: string; token?: string } {
  const endpoint = read.string('HF_ENDPOINT', 'https://huggingface.co');
  const token = read.optionalString('HF_TOKEN');
  return token ? { endpoint, token } : { endpoint };
}

/** A week: several export runs can fail (the store is down) before a labelled text is dropped. */
export const DEFAULT_EXAMPLE_TTL_SECONDS = 7 * 86_400;

export interface GatewayConfig extends AccessConfig {
  port: number;
  host: string;
  server: HttpServerConfig;
  /** REDIS_URL, Sentinel, and the replicas each enqueue waits for (REDIS_WAIT_*). */
  redis: RedisSettings;
  queuePrefix: string;
  /** How long a request waits for its result before answering 202 with a status URL. */
  syncTimeoutMs: number;
  maxTextChars: number;
  maxBatchItems: number;
  /** Largest accepted request body, in bytes. */
  maxBodyBytes: number;
  /** Waiting jobs above which new work is refused with 429 (0 = unlimited). */
  maxQueueDepth: number;
  retryAfterSeconds: number;
  log: LogConfig;
  /** How long a stopping gateway waits for requests in flight before it exits. */
  shutdownTimeoutMs: number;
  /** Requests one key (tenant) may send per minute, across gateway replicas (0 = no limit). */
  rateLimitPerMinute: number;
  /** The model registry admins promote from: `hf://models/<owner>/<name>` or a directory of model directories. */
  modelRegistry: string;
  /** Hub connection of an hf:// registry (HF_ENDPOINT, HF_TOKEN). */
  hub: { endpoint: string; token?: string };
  /** How long finished jobs stay readable, which is also how long an idempotent id is remembered. */
  jobRetention: {
    completedAgeSeconds: number;
    completedCount: number;
    failedAgeSeconds: number;
    failedCount: number;
  };
  /** Most client ids held to their first text at once (0: ids are not claimed), for RESULT_TTL_SECONDS. */
  idClaimMaxEntries: number;
  jobAttempts: number;
  /** Hours a prediction stays findable for feedback; must match the workers' PREDICTION_INDEX_HOURS. */
  predictionIndexHours: number;
  /** How long feedback labels are kept. */
  feedbackTtlSeconds: number;
  /** Most feedback labels kept (the oldest are dropped first), whatever the traffic. */
  feedbackMaxRecords: number;
  /** How long a labelled example (its text) waits in Redis for the drift monitor to export it. */
  exampleTtlSeconds: number;
  /** Most labelled examples waiting for an export (the oldest are evicted first), whatever the traffic. */
  exampleMaxPending: number;
}

export function loadGatewayConfig(env: Record<string, string | undefined> = process.env): GatewayConfig {
  const read = new EnvReader(env);
  const config = readGatewayConfig(read);
  read.done();
  return config;
}

/** Reads every variable (recording it in `read.variables`); problems are collected in `read`. */
export function readGatewayConfig(read: EnvReader): GatewayConfig {
  const maxTextChars = read.int('MAX_TEXT_CHARS', {
    default: DEFAULT_MAX_TEXT_CHARS,
    min: 1,
    max: 1_000_000,
  });
  const maxBatchItems = read.int('MAX_BATCH_ITEMS', {
    default: DEFAULT_MAX_BATCH_ITEMS,
    min: 1,
    max: 100_000,
  });
  const config: GatewayConfig = {
    port: read.int('PORT', { default: 3000, min: 0, max: 65_535 }),
    host: read.string('HOST', '0.0.0.0'),
    redis: readRedisSettings(read, { wait: true }),
    queuePrefix: read.string('QUEUE_PREFIX', DEFAULT_QUEUE_PREFIX),
    syncTimeoutMs: read.int('SYNC_TIMEOUT_MS', { default: 10_000, min: 0, max: 300_000 }),
    maxTextChars,
    maxBatchItems,
    // Room for every item at the character limit, JSON escaping (up to 6 bytes per char) aside.
    maxBodyBytes: read.int('MAX_BODY_BYTES', {
      default: Math.max(1_048_576, maxBatchItems * (maxTextChars * 4 + 256)),
      min: 1_024,
      max: 1 << 30,
    }),
    maxQueueDepth: read.int('MAX_QUEUE_DEPTH', { default: 10_000, min: 0, max: 100_000_000 }),
    retryAfterSeconds: read.int('RETRY_AFTER_SECONDS', { default: 2, min: 1, max: 3_600 }),
    ...readAccessConfig(read),
    server: readHttpServerConfig(read),
    log: readLogConfig(read),
    shutdownTimeoutMs: read.int('SHUTDOWN_TIMEOUT_MS', { default: 10_000, min: 0, max: 600_000 }),
    rateLimitPerMinute: read.int('RATE_LIMIT_PER_MINUTE', { default: 6_000, min: 0, max: 10_000_000 }),
    modelRegistry: read.string('MODEL_REGISTRY', DEFAULT_MODEL_REGISTRY),
    hub: hubConnection(read),
    jobRetention: {
      completedAgeSeconds: read.int('RESULT_TTL_SECONDS', { default: 3_600, min: 1, max: 30 * 86_400 }),
      completedCount: read.int('RESULT_MAX_COUNT', { default: 100_000, min: 1, max: 100_000_000 }),
      failedAgeSeconds: read.int('FAILED_TTL_SECONDS', { default: 7 * 86_400, min: 1, max: 90 * 86_400 }),
      failedCount: read.int('FAILED_MAX_COUNT', { default: 10_000, min: 1, max: 100_000_000 }),
    },
    idClaimMaxEntries: read.int('ID_CLAIM_MAX_ENTRIES', {
      default: DEFAULT_ID_CLAIM_MAX_ENTRIES,
      min: 0,
      max: 1_000_000_000,
    }),
    jobAttempts: read.int('JOB_ATTEMPTS', { default: 3, min: 1, max: 20 }),
    predictionIndexHours: read.int('PREDICTION_INDEX_HOURS', { default: 24, min: 0, max: 24 * 90 }),
    feedbackTtlSeconds: read.int('FEEDBACK_TTL_SECONDS', {
      default: 30 * 86_400,
      min: 3_600,
      max: 365 * 86_400,
    }),
    exampleTtlSeconds: read.int('EXAMPLE_TTL_SECONDS', {
      default: DEFAULT_EXAMPLE_TTL_SECONDS,
      min: 3_600,
      max: 90 * 86_400,
    }),
    feedbackMaxRecords: read.int('FEEDBACK_MAX_RECORDS', {
      default: DEFAULT_FEEDBACK_MAX_RECORDS,
      min: 1_000,
      max: 1_000_000_000,
    }),
    exampleMaxPending: read.int('EXAMPLE_MAX_PENDING', {
      default: DEFAULT_EXAMPLE_MAX_PENDING,
      min: 1_000,
      max: 1_000_000_000,
    }),
  };
  return config;
}
