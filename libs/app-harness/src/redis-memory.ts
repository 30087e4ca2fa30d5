import type { Redis } from 'ioredis';

/**
 * What a deployment's Redis memory is made of, measured (INFO memory, MEMORY USAGE per key), and what it
 * can be at most for given settings (`redisMemoryBudget`): the figures of docs/capacity.md "Redis memory".
 */

/** `used_memory` of INFO memory: every byte Redis's allocator handed out (data, buffers, scripts). */
export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  const match = /^used_memory:(\d+)/m.exec(info);
  if (!match) throw new Error('INFO memory has no used_memory');
  return Number(match[1]);
}

/** Buckets per capped ring (redis-connection's DEFAULT_RING_BUCKETS; the harness may not import it). */
const RING_BUCKETS = 8;

/** Entries a capped ring (prediction index, result cache) holds now: the HLEN of its live buckets. */
export async function ringEntries(redis: Redis, key: string): Promise<number> {
  const generation = Number((await redis.hget(`${key}:ring`, 'g')) ?? 0);
  if (generation === 0) return 0;
  const pipeline = redis.pipeline();
  for (let gen = generation; gen > 0 && gen > generation - RING_BUCKETS; gen--)
    pipeline.hlen(`${key}:gen:${gen}`);
  return ((await pipeline.exec()) ?? []).reduce((sum, [, count]) => sum + Number(count), 0);
}

/** BullMQ's keys of a whole queue (`<prefix>:<queue>:<name>`); anything else under the queue is a job's. */
const QUEUE_STRUCTURES = new Set([
  'wait',
  'paused',
  'meta',
  'id',
  'delayed',
  'active',
  'completed',
  'failed',
  'stalled',
  'stalled-check',
  'limiter',
  'prioritized',
  'pc',
  'marker',
  'events',
  'waiting-children',
]);

export type KeyFamily =
  | 'jobs'
  | 'job locks and logs'
  | 'completed set'
  | 'failed set'
  | 'events stream'
  | 'queue (other)'
  | 'prediction stream'
  | 'prediction index'
  | 'result cache'
  | 'id claims'
  | 'feedback'
  | 'examples'
  | 'rate limit'
  | 'workers and model state'
  | 'other';

/**
 * The family of a key of the deployment under `prefix` with the sentiment queue `queue`: what the soak and
 * `npm run bench:capacity` put Redis memory down to.
 */
export function keyFamily(key: string, prefix: string, queue = 'sentiment'): KeyFamily {
  if (!key.startsWith(`${prefix}:`)) return key.includes('rate-limit') ? 'rate limit' : 'other';
  const rest = key.slice(prefix.length + 1);
  if (rest.startsWith(`${queue}:`)) {
    const name = rest.slice(queue.length + 1);
    if (name === 'completed') return 'completed set';
    if (name === 'failed') return 'failed set';
    if (name === 'events') return 'events stream';
    if (QUEUE_STRUCTURES.has(name) || /^(repeat|de|metrics):/.test(name)) return 'queue (other)';
    if (name.includes(':')) return 'job locks and logs';
    return 'jobs';
  }
  if (rest === 'predictions') return 'prediction stream';
  if (rest.startsWith('prediction-index:')) return 'prediction index';
  if (rest.startsWith('result-cache:')) return 'result cache';
  if (rest.startsWith('id-claims:')) return 'id claims';
  if (rest.startsWith('feedback')) return 'feedback';
  if (rest.startsWith('examples:')) return 'examples';
  if (rest.startsWith('rate-limit') || rest.includes('throttler')) return 'rate limit';
  if (rest.startsWith('workers:') || rest.startsWith('model:')) return 'workers and model state';
  return 'other';
}

export interface FamilyFootprint {
  family: KeyFamily;
  keys: number;
  /** Records the family holds: jobs, set members, stream entries, ring entries (0 when not countable). */
  entries: number;
  /** MEMORY USAGE summed over its keys (job hashes: a sample scaled up to all of them). */
  bytes: number;
}

export interface JobSizes {
  /** Job hashes sampled. */
  sampled: number;
  /** Least-squares fit of MEMORY USAGE = perJob + perText x texts (perText is 0 when all had one size). */
  perJob: number;
  perText: number;
  /** Mean UTF-8 bytes of the sampled jobs' texts, which `perText` includes. */
  textBytes: number;
  /** Mean texts per sampled job. */
  textsPerJob: number;
}

export interface Footprint {
  usedMemory: number;
  families: FamilyFootprint[];
  jobs: JobSizes;
}

const JOB_SAMPLE = 400;

/**
 * Every key under `prefix` by family, with MEMORY USAGE (SAMPLES 0: exact; it reads every field of a big
 * hash, so it is for soaks and measurements, not for a production Redis under load).
 */
export async function measureFootprint(
  redis: Redis,
  prefix: string,
  queue = 'sentiment',
): Promise<Footprint> {
  const byFamily = new Map<KeyFamily, string[]>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1_000);
    for (const key of keys) {
      const family = keyFamily(key, prefix, queue);
      byFamily.set(family, [...(byFamily.get(family) ?? []), key]);
    }
    cursor = next;
  } while (cursor !== '0');

  const usage = async (keys: readonly string[]): Promise<number[]> => {
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
    return ((await pipeline.exec()) ?? []).map(([, bytes]) => Number(bytes ?? 0));
  };
  const families: FamilyFootprint[] = [];
  let jobs: JobSizes = { sampled: 0, perJob: 0, perText: 0, textBytes: 0, textsPerJob: 0 };
  for (const [family, keys] of byFamily) {
    if (family === 'jobs') {
      const sample =
        keys.length <= JOB_SAMPLE
          ? keys
          : keys.filter((_, i) => i % Math.ceil(keys.length / JOB_SAMPLE) === 0);
      const bytes = await usage(sample);
      const data = await Promise.all(sample.map((key) => redis.hget(key, 'data')));
      jobs = fitJobSizes(
        bytes,
        data.map((raw) => {
          const items = raw ? ((JSON.parse(raw) as { items?: Array<{ text: string }> }).items ?? []) : [];
          return {
            texts: items.length,
            textBytes: items.reduce((sum, item) => sum + Buffer.byteLength(item.text), 0),
          };
        }),
      );
      const mean = bytes.reduce((sum, b) => sum + b, 0) / Math.max(1, bytes.length);
      families.push({
        family,
        keys: keys.length,
        entries: keys.length,
        bytes: Math.round(mean * keys.length),
      });
      continue;
    }
    const bytes = (await usage(keys)).reduce((sum, b) => sum + b, 0);
    families.push({
      family,
      keys: keys.length,
      entries: await entriesOf(redis, family, prefix, queue),
      bytes,
    });
  }
  families.sort((a, b) => b.bytes - a.bytes);
  return { usedMemory: await usedMemory(redis), families, jobs };
}

async function entriesOf(redis: Redis, family: KeyFamily, prefix: string, queue: string): Promise<number> {
  switch (family) {
    case 'completed set':
      return redis.zcard(`${prefix}:${queue}:completed`);
    case 'failed set':
      return redis.zcard(`${prefix}:${queue}:failed`);
    case 'events stream':
      return redis.xlen(`${prefix}:${queue}:events`);
    case 'prediction stream':
      return redis.xlen(`${prefix}:predictions`);
    case 'prediction index':
      return ringEntries(redis, `${prefix}:prediction-index`);
    case 'result cache':
      return ringEntries(redis, `${prefix}:result-cache`);
    case 'id claims':
      return ringEntries(redis, `${prefix}:id-claims`);
    default:
      return 0;
  }
}

/** bytes = perJob + perText x texts, by least squares over the sampled jobs. */
export function fitJobSizes(
  bytes: readonly number[],
  jobs: ReadonlyArray<{ texts: number; textBytes: number }>,
): JobSizes {
  const n = bytes.length;
  if (n === 0) return { sampled: 0, perJob: 0, perText: 0, textBytes: 0, textsPerJob: 0 };
  const meanX = jobs.reduce((sum, job) => sum + job.texts, 0) / n;
  const meanY = bytes.reduce((sum, b) => sum + b, 0) / n;
  let covariance = 0;
  let variance = 0;
  jobs.forEach((job, i) => {
    covariance += (job.texts - meanX) * (bytes[i] - meanY);
    variance += (job.texts - meanX) ** 2;
  });
  const perText = variance > 0 ? covariance / variance : 0;
  const texts = jobs.reduce((sum, job) => sum + job.texts, 0);
  return {
    sampled: n,
    perJob: Math.round(meanY - perText * meanX),
    perText: Math.round(perText),
    textBytes: texts > 0 ? Math.round(jobs.reduce((sum, job) => sum + job.textBytes, 0) / texts) : 0,
    textsPerJob: meanX,
  };
}

/**
 * Bytes per record, measured with `npm run soak` (MEMORY USAGE per key family divided by its records, on
 * Redis 7 with jemalloc; docs/capacity.md "Redis memory" says how) and rounded up.
 */
export const REDIS_BYTES = {
  /** A job hash besides its texts: payload and options, timestamps, the result's fixed part. */
  job: 1_500,
  /** Per text of a job besides the text's own UTF-8 bytes: its item in the payload, its prediction in the result. */
  jobText: 320,
  /** A job id in the completed (or failed) sorted set. */
  finishedSetEntry: 150,
  /** A queue event (added, waiting, active, completed), without the result a `completed` event carries. */
  event: 100,
  /** The fixed part of the result in a `completed` event (model, timings). */
  eventResult: 300,
  /** A prediction in the result a `completed` event carries (one per text). */
  eventPrediction: 220,
  /** Queue events per job: added, waiting, active, completed. */
  eventsPerJob: 4,
  /** An entry of the prediction stream. */
  streamEntry: 250,
  /** An entry of the prediction index. */
  indexEntry: 220,
  /** An entry of the result cache. */
  cacheEntry: 320,
  /** A client id claimed for its text (the producer client's id claims). */
  idClaim: 140,
  /** A feedback label: its record and its time-index entry. */
  feedbackRecord: 550,
  /** A labelled example waiting for export, besides its text. */
  example: 720,
  /**
   * What holds no records: an empty Redis with the apps connected (1.7 MB: queue metadata, scripts) and the
   * connections' buffers under load (1-2 MB for a gateway and a worker; more with more replicas).
   */
  fixed: 4_000_000,
};

/** The settings that bound Redis memory (names as in docs/capacity.md; the apps' variables in brackets). */
export interface RedisMemorySettings {
  /** [RESULT_MAX_COUNT] completed jobs kept. */
  resultMaxCount: number;
  /** [FAILED_MAX_COUNT] failed jobs kept (0 where nothing fails). */
  failedMaxCount?: number;
  /** Jobs waiting or running at most: MAX_QUEUE_DEPTH + workers x WORKER_CONCURRENCY (retries included). */
  inFlightJobs: number;
  /** [PREDICTION_STREAM_MAXLEN] */
  predictionStreamMaxLen: number;
  /** [PREDICTION_INDEX_MAX_ENTRIES] */
  predictionIndexMaxEntries: number;
  /** [RESULT_CACHE_MAX_ENTRIES] (0 with RESULT_CACHE_TTL_SECONDS=0) */
  resultCacheMaxEntries: number;
  /** BullMQ's event stream cap (its default, 10,000). */
  eventsMaxLen?: number;
  /** [ID_CLAIM_MAX_ENTRIES] (0 where clients name no texts with ids) */
  idClaimMaxEntries?: number;
  /** [FEEDBACK_MAX_RECORDS] and [EXAMPLE_MAX_PENDING] (0 where no feedback is given or no text imported). */
  feedbackMaxRecords?: number;
  exampleMaxPending?: number;
}

/** What the jobs look like: memory is bounded by counts, and a job's size by its texts. */
export interface RedisWorkload {
  /** Mean texts per job. */
  textsPerJob: number;
  /** The largest job (MAX_BATCH_ITEMS at worst), for the jobs in flight. */
  largestJobTexts: number;
  /** Mean UTF-8 bytes of a text. */
  textBytes: number;
}

export interface RedisBudget {
  total: number;
  families: Array<{ family: string; bytes: number }>;
}

/** Stream caps are approximate (MAXLEN ~): a stream may run a macro node (100 entries) over. */
const STREAM_NODE = 100;

/** Redis memory at most, for the settings and the workload: no term depends on the traffic rate. */
export function redisMemoryBudget(settings: RedisMemorySettings, workload: RedisWorkload): RedisBudget {
  const b = REDIS_BYTES;
  const job = (texts: number) => b.job + texts * (b.jobText + workload.textBytes);
  const eventsMaxLen = settings.eventsMaxLen ?? 10_000;
  const meanEvent = b.event + (b.eventResult + workload.textsPerJob * b.eventPrediction) / b.eventsPerJob;
  const families = [
    {
      family: 'completed jobs',
      bytes: settings.resultMaxCount * (job(workload.textsPerJob) + b.finishedSetEntry),
    },
    {
      family: 'failed jobs',
      bytes: (settings.failedMaxCount ?? 0) * (job(workload.textsPerJob) + b.finishedSetEntry),
    },
    { family: 'jobs in flight', bytes: settings.inFlightJobs * job(workload.largestJobTexts) },
    { family: 'events stream', bytes: (eventsMaxLen + STREAM_NODE) * meanEvent },
    { family: 'prediction stream', bytes: (settings.predictionStreamMaxLen + STREAM_NODE) * b.streamEntry },
    { family: 'prediction index', bytes: settings.predictionIndexMaxEntries * b.indexEntry },
    { family: 'result cache', bytes: settings.resultCacheMaxEntries * b.cacheEntry },
    { family: 'id claims', bytes: (settings.idClaimMaxEntries ?? 0) * b.idClaim },
    { family: 'feedback', bytes: (settings.feedbackMaxRecords ?? 0) * b.feedbackRecord },
    // Pending examples, and as many again in a batch being exported.
    { family: 'examples', bytes: 2 * (settings.exampleMaxPending ?? 0) * (b.example + workload.textBytes) },
    { family: 'fixed', bytes: b.fixed },
  ].map((family) => ({ ...family, bytes: Math.round(family.bytes) }));
  return { total: families.reduce((sum, family) => sum + family.bytes, 0), families };
}
