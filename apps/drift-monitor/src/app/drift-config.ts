import { DEFAULT_QUEUE_PREFIX } from '@reputation-monitor/contracts';
import {
  AccessConfig,
  HttpServerConfig,
  readAccessConfig,
  readHttpServerConfig,
} from '@reputation-monitor/http-edge';
import { LogConfig, readLogConfig } from '@reputation-monitor/observability';
import { EnvReader, readRedisSettings } from '@reputation-monitor/config';
import type { RedisSettings } from '@reputation-monitor/redis-connection';
import {
  DEFAULT_CONSECUTIVE_WINDOWS,
  DEFAULT_DRIFT_THRESHOLDS,
  DEFAULT_MIN_QUALITY_SAMPLES,
  DEFAULT_RETRAIN_TOLERANCE,
} from '@reputation-monitor/drift-stats';
import {
  DEFAULT_COOLDOWN_SECONDS,
  DEFAULT_EVENT_TYPE,
  DEFAULT_GITHUB_API_URL,
} from '@reputation-monitor/retrain-trigger';
import { parseSnapshotLocation } from '@reputation-monitor/dataset-store';
import { cronProblem } from './cron';

export const DEFAULT_SCHEDULE = '*/15 * * * *';
/** CANDIDATE_ALPHA's default: the gate's --max-p. */
export const DEFAULT_CANDIDATE_ALPHA = 0.01;
/** Placeholder target of dry runs when GITHUB_REPOSITORY is unset (nothing is ever sent to it). */
export const UNCONFIGURED_REPOSITORY = { owner: 'unconfigured', repo: 'unconfigured' };

export interface DriftConfig extends AccessConfig {
  port: number;
  host: string;
  server: HttpServerConfig;
  /** REDIS_URL, Sentinel, and the replicas each golden-set job waits for (REDIS_WAIT_*). */
  redis: RedisSettings;
  queuePrefix: string;
  /** Cron expression of the window evaluations; undefined when SCHEDULE=off (manual runs only). */
  schedule: string | undefined;
  windowMinutes: number;
  /** Most predictions read from one window (the oldest are kept when there are more; the report says so). */
  maxWindowSamples: number;
  golden: {
    /** JSONL file, or `texts.txt,labels.txt`; undefined: no golden set. */
    path: string | undefined;
    limit: number;
    chunkSize: number;
    /** Bound on waiting for each chunk's result. */
    timeoutMs: number;
  };
  quality: {
    /** Fixed baseline macro recall; undefined: the golden-set result of a version's first run. */
    baselineMacroRecall: number | undefined;
    tolerance: number;
    minSamples: number;
    /** The seed's absolute accuracy rule (off when undefined). */
    absoluteAccuracyFloor: number | undefined;
  };
  candidate: {
    /** Level of the paired test "production is better than the candidate" that calls a candidate worse. */
    alpha: number;
  };
  drift: {
    consecutiveWindows: number;
    alpha: number;
    correction: 'bonferroni' | 'none';
    labelJsDistance: number;
    minWindowSamples: number;
    /** Reference size needed for the KS tests, and for a window to become a version's reference. */
    minReferenceSamples: number;
    /** Where a version's missing reference comes from. */
    referenceSource: 'window' | 'golden';
    /** Window verdicts kept per model version. */
    historyLength: number;
  };
  retrain: {
    token: string | undefined;
    owner: string;
    repo: string;
    apiUrl: string;
    eventType: string;
    cooldownSeconds: number;
  };
  dataset: {
    /** `hf://datasets/<owner>/<name>` or a directory; undefined when DATASET_STORE=off. */
    store: string | undefined;
    /** Hub connection for an hf:// store (HF_ENDPOINT, HF_TOKEN). */
    hub: { endpoint: string; token: string | undefined };
    /** Pending examples that make an export worth a shard of its own. */
    minExamples: number;
    /** Export anyway once the oldest pending example waited this long. */
    maxWaitHours: number;
    /** The Redis buffer's TTL (the gateway's EXAMPLE_TTL_SECONDS). */
    exampleTtlSeconds: number;
  };
  reportRetention: number;
  log: LogConfig;
}

/** Where labelled examples go when DATASET_STORE is unset: a local directory, so the loop works offline. */
export const DEFAULT_DATASET_STORE = 'data/labelled-examples';
export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';

export function loadDriftConfig(env: Record<string, string | undefined> = process.env): DriftConfig {
  const read = new EnvReader(env);
  const config = readDriftConfig(read);
  read.done();
  return config;
}

/** Reads every variable (recording it in `read.variables`); problems are collected in `read`. */
export function readDriftConfig(read: EnvReader): DriftConfig {
  // Read in the order --env-schema should list them.
  const port = read.int('PORT', { default: 3003, min: 0, max: 65_535 });
  const host = read.string('HOST', '0.0.0.0');
  const redis = readRedisSettings(read, { wait: true });
  const queuePrefix = read.string('QUEUE_PREFIX', DEFAULT_QUEUE_PREFIX);
  const schedule = read.string('SCHEDULE', DEFAULT_SCHEDULE);
  const scheduleOff = schedule.toLowerCase() === 'off';
  if (!scheduleOff) {
    const problem = cronProblem(schedule);
    read.check(problem === undefined, `SCHEDULE must be a cron expression or "off": ${problem}`);
  }
  const repository = read.optionalString('GITHUB_REPOSITORY');
  const token = read.optionalString('GITHUB_TOKEN');
  const repositoryMatch = repository?.match(/^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/);
  read.check(
    repository === undefined || repositoryMatch !== null,
    `GITHUB_REPOSITORY must be owner/repo, got "${repository}"`,
  );
  read.check(
    token === undefined || repository !== undefined,
    'GITHUB_REPOSITORY must be set when GITHUB_TOKEN is (the repository whose workflow retrains the model)',
  );
  const apiUrl = read.string('GITHUB_API_URL', DEFAULT_GITHUB_API_URL);
  read.check(isHttpUrl(apiUrl), `GITHUB_API_URL must be an http(s) URL, got "${apiUrl}"`);
  const referenceSource = read.oneOf('REFERENCE_SOURCE', ['window', 'golden'] as const, 'window');
  const goldenPath = read.optionalString('GOLDEN_SET_PATH');

  const config: DriftConfig = {
    port,
    host,
    redis,
    queuePrefix,
    schedule: scheduleOff ? undefined : schedule,
    windowMinutes: read.int('WINDOW_MINUTES', { default: 60, min: 1, max: 7 * 24 * 60 }),
    maxWindowSamples: read.int('MAX_WINDOW_SAMPLES', { default: 200_000, min: 100, max: 5_000_000 }),
    golden: {
      path: goldenPath,
      limit: read.int('GOLDEN_SET_LIMIT', { default: 2_000, min: 1, max: 100_000 }),
      chunkSize: read.int('GOLDEN_CHUNK_SIZE', { default: 64, min: 1, max: 256 }),
      timeoutMs: read.int('GOLDEN_TIMEOUT_MS', { default: 60_000, min: 100, max: 3_600_000 }),
    },
    quality: {
      baselineMacroRecall: optionalNumber(read, 'BASELINE_MACRO_RECALL', 0, 1),
      tolerance: read.float('QUALITY_TOLERANCE', { default: DEFAULT_RETRAIN_TOLERANCE, min: 0, max: 1 }),
      minSamples: read.int('MIN_QUALITY_SAMPLES', {
        default: DEFAULT_MIN_QUALITY_SAMPLES,
        min: 1,
        max: 1_000_000,
      }),
      absoluteAccuracyFloor: optionalNumber(read, 'ABSOLUTE_ACCURACY_FLOOR', 0, 1),
    },
    candidate: {
      alpha: read.float('CANDIDATE_ALPHA', { default: DEFAULT_CANDIDATE_ALPHA, min: 1e-12, max: 0.5 }),
    },
    drift: {
      consecutiveWindows: read.int('DRIFT_CONSECUTIVE_WINDOWS', {
        default: DEFAULT_CONSECUTIVE_WINDOWS,
        min: 1,
        max: 100,
      }),
      alpha: read.float('DRIFT_ALPHA', { default: DEFAULT_DRIFT_THRESHOLDS.alpha, min: 1e-12, max: 0.5 }),
      correction: read.oneOf('DRIFT_CORRECTION', ['bonferroni', 'none'] as const, 'bonferroni'),
      labelJsDistance: read.float('LABEL_JS_THRESHOLD', {
        default: DEFAULT_DRIFT_THRESHOLDS.labelJsDistance,
        min: 0,
        max: 1,
      }),
      minWindowSamples: read.int('MIN_WINDOW_SAMPLES', {
        default: DEFAULT_DRIFT_THRESHOLDS.minWindowSamples,
        min: 1,
        max: 1_000_000,
      }),
      minReferenceSamples: read.int('MIN_REFERENCE_SAMPLES', {
        default: DEFAULT_DRIFT_THRESHOLDS.minReferenceSamples,
        min: 1,
        max: 1_000_000,
      }),
      referenceSource,
      historyLength: read.int('DRIFT_HISTORY_LENGTH', { default: 100, min: 1, max: 10_000 }),
    },
    retrain: {
      token,
      owner: repositoryMatch?.[1] ?? UNCONFIGURED_REPOSITORY.owner,
      repo: repositoryMatch?.[2] ?? UNCONFIGURED_REPOSITORY.repo,
      apiUrl,
      eventType: read.string('RETRAIN_EVENT_TYPE', DEFAULT_EVENT_TYPE),
      cooldownSeconds: read.int('RETRAIN_COOLDOWN_SECONDS', {
        default: DEFAULT_COOLDOWN_SECONDS,
        min: 1,
        max: 365 * 86_400,
      }),
    },
    dataset: readDatasetConfig(read),
    reportRetention: read.int('REPORT_RETENTION', { default: 500, min: 1, max: 100_000 }),
    log: readLogConfig(read),
    // Client keys read reports; admin keys also start runs (which may dispatch a retrain).
    ...readAccessConfig(read),
    server: readHttpServerConfig(read),
  };
  read.check(
    config.retrain.eventType.length <= 100,
    'RETRAIN_EVENT_TYPE must be at most 100 characters (GitHub limit)',
  );
  read.check(
    referenceSource !== 'golden' || goldenPath !== undefined,
    'REFERENCE_SOURCE=golden needs GOLDEN_SET_PATH',
  );
  return config;
}

function readDatasetConfig(read: EnvReader): DriftConfig['dataset'] {
  const store = read.string('DATASET_STORE', DEFAULT_DATASET_STORE);
  const off = store.toLowerCase() === 'off';
  let problem: string | undefined;
  if (!off) {
    try {
      const location = parseSnapshotLocation(store);
      if (location.revision !== undefined) problem = 'names a store, not a snapshot: leave out the @revision';
    } catch (error) {
      problem = (error as Error).message;
    }
  }
  read.check(
    problem === undefined,
    `DATASET_STORE must be hf://datasets/<owner>/<name>, a directory or "off": ${problem}`,
  );
  const endpoint = read.string('HF_ENDPOINT', DEFAULT_HF_ENDPOINT);
  read.check(isHttpUrl(endpoint), `HF_ENDPOINT must be an http(s) URL, got "${endpoint}"`);
  const dataset = {
    store: off ? undefined : store,
    hub: { endpoint, token: read.optionalString('HF_TOKEN') },
    minExamples: read.int('EXPORT_MIN_EXAMPLES', { default: 100, min: 1, max: 10_000_000 }),
    maxWaitHours: read.int('EXPORT_MAX_WAIT_HOURS', { default: 24, min: 1, max: 24 * 30 }),
    exampleTtlSeconds: read.int('EXAMPLE_TTL_SECONDS', {
      default: 7 * 86_400,
      min: 3_600,
      max: 90 * 86_400,
    }),
  };
  read.check(
    dataset.maxWaitHours * 3_600 < dataset.exampleTtlSeconds,
    'EXPORT_MAX_WAIT_HOURS must be shorter than EXAMPLE_TTL_SECONDS, or examples expire before they are exported',
  );
  return dataset;
}

function optionalNumber(read: EnvReader, name: string, min: number, max: number): number | undefined {
  const raw = read.optionalString(name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  const ok = raw !== '' && Number.isFinite(value) && value >= min && value <= max;
  read.check(ok, `${name} must be a number in ${min}..${max}, got "${raw}"`);
  return ok ? value : undefined;
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
