import { basename, resolve } from 'node:path';
import {
  DEFAULT_MAX_BATCH_ITEMS,
  DEFAULT_MAX_TEXT_CHARS,
  DEFAULT_QUEUE_PREFIX,
  MODEL_MAX_TOKENS,
  QueueName,
  WORKER_HEARTBEAT_TTL_MS,
} from '@reputation-monitor/contracts';
import { EnvReader, readRedisSettings } from '@reputation-monitor/config';
import type { RedisSettings } from '@reputation-monitor/redis-connection';
import { LogConfig, readLogConfig } from '@reputation-monitor/observability';
import { DEFAULT_PACKING_LIMITS, type ModelVariant } from '@reputation-monitor/model-runtime';
import { QUEUE_WORKER_SETTINGS, QueueWorkerSettings } from './queue-settings';

export const DEFAULT_METRIC_SOURCES = [
  'twitter',
  'x',
  'facebook',
  'instagram',
  'reddit',
  'news',
  'forum',
  'reviews',
];

/** An hour covers a retweet wave or a copy-paste campaign; see `resultCacheMaxEntries` for the memory. */
export const DEFAULT_RESULT_CACHE_TTL_SECONDS = 3_600;

/** About 60 MB of Redis (docs/capacity.md): an hour of 55 distinct texts/s. */
export const DEFAULT_RESULT_CACHE_MAX_ENTRIES = 200_000;

/** About 210 MB of Redis (docs/capacity.md): PREDICTION_INDEX_HOURS (24) of 11 texts/s, 2.8 h of 100/s. */
export const DEFAULT_PREDICTION_INDEX_MAX_ENTRIES = 1_000_000;

/** Inference threads' nice: low enough that a request or a job fetch preempts a run (docs/adr/0009-inference-lanes.md). */
export const DEFAULT_INFERENCE_NICE = 19;

export const DEFAULT_MODEL_DIR = 'models/twitter-roberta-base-sentiment-latest';

export interface WorkerConfig {
  /** REDIS_URL or Sentinel (the worker enqueues nothing, so it reads no REDIS_WAIT_*). */
  redis: RedisSettings;
  queuePrefix: string;
  modelDir: string;
  modelVariant: ModelVariant;
  modelName: string;
  /** Explicit version; when unset it is derived from the model file's hash. */
  modelVersion: string | undefined;
  /** Cores the model's sessions use in all (0: every core of the machine). */
  intraOpThreads: number;
  /** Runs that compute at the same time, each on a session of its own (0: auto; docs/adr/0009-inference-lanes.md). */
  inferenceLanes: number;
  /** A session with every core for a run that is the only work (auto: kept where a lone run is faster on it). */
  soloLane: 'auto' | 'on' | 'off';
  /** How far below the process the inference threads run (Linux nice), so BullMQ, Redis and the gateway get a core. */
  inferenceNice: number;
  /** Let ONNX Runtime's idle threads spin (faster hand-off, but burns CPU others need). */
  intraOpSpinning: boolean;
  maxTokens: number;
  batch: {
    /** Padded tokens (texts x longest text) per inference batch. */
    maxTokens: number;
    maxTexts: number;
    /** Largest share of pad tokens in a batch, on top of the packing policy's cost model (1: no cap). */
    maxPaddingRatio: number;
    /** How long the first text of an idle batcher waits for company. */
    maxWaitMs: number;
  };
  /** Jobs held at once (concurrency) must be enough to gather texts from many jobs into one batch. */
  queue: QueueWorkerSettings;
  maxTextChars: number;
  maxBatchItems: number;
  predictionStreamMaxLen: number;
  /** Hours a prediction stays findable by id for feedback (0: no index), unless the index is full first. */
  predictionIndexHours: number;
  /** Most predictions the index holds, whatever the traffic: this, not the hours, bounds its memory. */
  predictionIndexMaxEntries: number;
  /**
   * Seconds a computed result stays in the duplicate-result cache (0: off, every text is computed), unless
   * the cache is full first. Entries are never stale (the model version is in the field).
   */
  resultCacheTtlSeconds: number;
  /** Most results the cache holds, whatever the traffic: this bounds its memory (docs/capacity.md). */
  resultCacheMaxEntries: number;
  /** Sources counted under their own name in metrics; others count as `other` (bounded label values). */
  metricSources: string[];
  /** Follow the model assignment in Redis (MODEL_DIR serves until one exists, and if the assigned version cannot load). */
  followAssignment: boolean;
  /** How often the assignment is read when pub/sub is silent (a message lost while disconnected). */
  assignmentPollMs: number;
  /** Where versions pulled from the Hub are kept, one directory per commit. */
  modelCacheDir: string;
  /** Hub connection for versions on the Hub (HF_ENDPOINT, HF_TOKEN). */
  hub: { endpoint: string; token?: string };
  /** Texts waiting to be scored by the second model of a shadow/canary pair; more are dropped (counted). */
  shadowQueueMaxTexts: number;
  /** How long the answering models must have been idle before a shadow batch starts. */
  shadowIdleMs: number;
  healthPort: number;
  healthHost: string;
  heartbeatIntervalMs: number;
  shutdownTimeoutMs: number;
  log: LogConfig;
}

export function loadWorkerConfig(env: Record<string, string | undefined> = process.env): WorkerConfig {
  const read = new EnvReader(env);
  const config = readWorkerConfig(read);
  read.done();
  return config;
}

/** Reads every variable (recording it in `read.variables`); problems are collected in `read`. */
export function readWorkerConfig(read: EnvReader): WorkerConfig {
  const defaults = QUEUE_WORKER_SETTINGS[QueueName.Sentiment];
  const modelDir = resolve(read.string('MODEL_DIR', DEFAULT_MODEL_DIR));
  const config: WorkerConfig = {
    redis: readRedisSettings(read),
    queuePrefix: read.string('QUEUE_PREFIX', DEFAULT_QUEUE_PREFIX),
    modelDir,
    modelVariant: read.oneOf('MODEL_VARIANT', ['fp32', 'int8'] as const, 'fp32'),
    modelName: read.string('MODEL_NAME', basename(modelDir)),
    modelVersion: read.optionalString('MODEL_VERSION'),
    intraOpThreads: read.int('INTRA_OP_THREADS', { default: 0, min: 0, max: 256 }),
    inferenceLanes: read.int('INFERENCE_LANES', { default: 0, min: 0, max: 64 }),
    soloLane: read.oneOf('INFERENCE_SOLO_LANE', ['auto', 'on', 'off'] as const, 'auto'),
    inferenceNice: read.int('INFERENCE_NICE', { default: DEFAULT_INFERENCE_NICE, min: 0, max: 19 }),
    intraOpSpinning: read.bool('INTRA_OP_SPINNING', false),
    maxTokens: read.int('MAX_TOKENS', { default: MODEL_MAX_TOKENS, min: 3, max: MODEL_MAX_TOKENS }),
    batch: {
      maxTokens: read.int('BATCH_MAX_TOKENS', {
        default: DEFAULT_PACKING_LIMITS.maxTokens,
        min: MODEL_MAX_TOKENS,
        max: 1_000_000,
      }),
      maxTexts: read.int('BATCH_MAX_TEXTS', { default: DEFAULT_PACKING_LIMITS.maxTexts, min: 1, max: 4096 }),
      maxPaddingRatio: read.float('BATCH_MAX_PADDING', {
        default: DEFAULT_PACKING_LIMITS.maxPaddingRatio,
        min: 0,
        max: 1,
      }),
      maxWaitMs: read.int('BATCH_MAX_WAIT_MS', { default: 0, min: 0, max: 60_000 }),
    },
    queue: {
      concurrency: read.int('WORKER_CONCURRENCY', { default: defaults.concurrency, min: 1, max: 10_000 }),
      lockDurationMs: read.int('LOCK_DURATION_MS', {
        default: defaults.lockDurationMs,
        min: 500,
        max: 3_600_000,
      }),
      stalledIntervalMs: read.int('STALLED_INTERVAL_MS', {
        default: defaults.stalledIntervalMs,
        min: 500,
        max: 3_600_000,
      }),
      maxStalledCount: read.int('MAX_STALLED_COUNT', { default: defaults.maxStalledCount, min: 0, max: 100 }),
    },
    maxTextChars: read.int('MAX_TEXT_CHARS', { default: DEFAULT_MAX_TEXT_CHARS, min: 1, max: 1_000_000 }),
    maxBatchItems: read.int('MAX_BATCH_ITEMS', { default: DEFAULT_MAX_BATCH_ITEMS, min: 1, max: 100_000 }),
    predictionStreamMaxLen: read.int('PREDICTION_STREAM_MAXLEN', {
      default: 1_000_000,
      min: 1_000,
      max: 1_000_000_000,
    }),
    predictionIndexHours: read.int('PREDICTION_INDEX_HOURS', { default: 24, min: 0, max: 24 * 90 }),
    predictionIndexMaxEntries: read.int('PREDICTION_INDEX_MAX_ENTRIES', {
      default: DEFAULT_PREDICTION_INDEX_MAX_ENTRIES,
      min: 1_000,
      max: 1_000_000_000,
    }),
    resultCacheTtlSeconds: read.int('RESULT_CACHE_TTL_SECONDS', {
      default: DEFAULT_RESULT_CACHE_TTL_SECONDS,
      min: 0,
      max: 30 * 86_400,
    }),
    resultCacheMaxEntries: read.int('RESULT_CACHE_MAX_ENTRIES', {
      default: DEFAULT_RESULT_CACHE_MAX_ENTRIES,
      min: 1_000,
      max: 1_000_000_000,
    }),
    metricSources: read.list('METRIC_SOURCES', DEFAULT_METRIC_SOURCES),
    followAssignment: read.bool('FOLLOW_MODEL_ASSIGNMENT', true),
    assignmentPollMs: read.int('ASSIGNMENT_POLL_MS', { default: 5_000, min: 100, max: 600_000 }),
    modelCacheDir: resolve(read.string('MODEL_CACHE_DIR', 'models/cache')),
    hub: {
      endpoint: read.string('HF_ENDPOINT', 'https://huggingface.co'),
      ...optionalToken(read.optionalString('HF_TOKEN')),
    },
    shadowQueueMaxTexts: read.int('SHADOW_QUEUE_MAX_TEXTS', { default: 10_000, min: 0, max: 10_000_000 }),
    shadowIdleMs: read.int('SHADOW_IDLE_MS', { default: 50, min: 0, max: 60_000 }),
    healthPort: read.int('HEALTH_PORT', { default: 3001, min: 0, max: 65_535 }),
    healthHost: read.string('HEALTH_HOST', '0.0.0.0'),
    // At most a third of the time after which a worker counts as gone: two missed beats are not an outage.
    heartbeatIntervalMs: read.int('HEARTBEAT_INTERVAL_MS', {
      default: 5_000,
      min: 100,
      max: Math.floor(WORKER_HEARTBEAT_TTL_MS / 3),
    }),
    shutdownTimeoutMs: read.int('SHUTDOWN_TIMEOUT_MS', { default: 20_000, min: 0, max: 600_000 }),
    log: readLogConfig(read),
  };
  return config;
}

function optionalToken(token: string | undefined): { token?: string } {
  return token ? { token } : {};
}
