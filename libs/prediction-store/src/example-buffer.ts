import type { Redis } from 'ioredis';
import { LabelledExample, decodeExample, encodeExample, redisKeys } from '@reputation-monitor/contracts';

/** What became of one submitted example. */
export type ExampleStatus = 'stored' | 'duplicate' | 'relabelled';

export const EXAMPLE_COUNTERS = [
  'stored',
  'duplicate',
  'relabelled',
  'expired',
  'exported',
  'deleted',
  'evicted',
] as const;
export type ExampleCounter = (typeof EXAMPLE_COUNTERS)[number];

/**
 * Adds examples keyed by id (one per text): the same text with the same label is a duplicate and changes
 * nothing; with another label it replaces the pending one (the latest label wins) and counts as relabelled.
 * Then drops pending examples older than the TTL, and the oldest beyond the cap (counted as evicted), and
 * refreshes the keys' own TTL as a backstop.
 * KEYS: pending, pending-by-time, counters. ARGV: now, ttlMs, max pending, then id, label, encoded, at per example.
 */
const ADD = `
local now, ttl, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local statuses = {}
for i = 4, #ARGV, 4 do
  local id, label, encoded, at = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  local existing = redis.call('HGET', KEYS[1], id)
  local status = 'stored'
  if existing then
    local ok, old = pcall(cjson.decode, existing)
    if ok and old.label == label then status = 'duplicate' else status = 'relabelled' end
  end
  if status ~= 'duplicate' then
    redis.call('HSET', KEYS[1], id, encoded)
    redis.call('ZADD', KEYS[2], at, id)
  end
  redis.call('HINCRBY', KEYS[3], status, 1)
  statuses[#statuses + 1] = status
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. (now - ttl))
if #expired > 0 then
  for i = 1, #expired, 500 do
    redis.call('HDEL', KEYS[1], unpack(expired, i, math.min(i + 499, #expired)))
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (now - ttl))
  redis.call('HINCRBY', KEYS[3], 'expired', #expired)
end
local over = redis.call('ZCARD', KEYS[2]) - cap
if over > 0 then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, over - 1)
  for i = 1, #oldest, 500 do
    redis.call('HDEL', KEYS[1], unpack(oldest, i, math.min(i + 499, #oldest)))
  end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1)
  redis.call('HINCRBY', KEYS[3], 'evicted', over)
end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return statuses`;

/**
 * Moves every pending example into a batch of its own, unless a batch is already being exported (then that
 * batch's id is returned, so it is finished before anything else). Examples past their TTL are dropped first.
 * RENAME is atomic: an example added meanwhile lands in a fresh pending hash, never half in a batch. The
 * batch keeps no TTL: once taken for export it stays until it is in the store.
 * KEYS: pending, pending-by-time, in-progress marker, the new batch's hash, counters. ARGV: the new batch id,
 * the oldest labelling time still kept (ms).
 */
const BEGIN_EXPORT = `
local current = redis.call('GET', KEYS[3])
if current then return current end
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[2])
if #expired > 0 then
  for i = 1, #expired, 500 do
    redis.call('HDEL', KEYS[1], unpack(expired, i, math.min(i + 499, #expired)))
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[2])
  redis.call('HINCRBY', KEYS[5], 'expired', #expired)
end
if redis.call('HLEN', KEYS[1]) == 0 then return false end
redis.call('RENAME', KEYS[1], KEYS[4])
redis.call('PERSIST', KEYS[4])
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[3], ARGV[1])
return ARGV[1]`;

/** KEYS: in-progress marker, the batch's hash, counters. ARGV: batch id, examples exported. */
const FINISH_EXPORT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HINCRBY', KEYS[3], 'exported', tonumber(ARGV[2]))
return 1`;

/**
 * Removes examples from the pending hash, its time index and the batch being exported (named by the marker,
 * read in the same step, so a batch begun meanwhile cannot keep them), and counts them `deleted`.
 * KEYS: pending, pending-by-time, export-in-progress, counters. ARGV: batch key prefix, then ids.
 */
const DELETE = `
local batch = redis.call('GET', KEYS[3])
local removed = 0
for i = 2, #ARGV, 500 do
  local last = math.min(i + 499, #ARGV)
  removed = removed + redis.call('HDEL', KEYS[1], unpack(ARGV, i, last))
  redis.call('ZREM', KEYS[2], unpack(ARGV, i, last))
  if batch then removed = removed + redis.call('HDEL', ARGV[1] .. batch, unpack(ARGV, i, last)) end
end
if removed > 0 then redis.call('HINCRBY', KEYS[4], 'deleted', removed) end
return removed`;

/** Examples waiting at most unless told otherwise (EXAMPLE_MAX_PENDING); the oldest are evicted first. */
export const DEFAULT_EXAMPLE_MAX_PENDING = 100_000;

export interface ExampleBufferOptions {
  prefix: string;
  /** How long an example waits in Redis for an export before it is dropped (texts are personal data). */
  ttlSeconds: number;
  /**
   * Most examples waiting for an export (default DEFAULT_EXAMPLE_MAX_PENDING); beyond it the oldest are
   * dropped and counted as `evicted`. A batch being exported is a second set of at most this many.
   */
  maxPending?: number;
}

/** An export batch: the examples taken from the buffer, readable until finishExport. */
export interface ExportBatch {
  batchId: string;
  examples: LabelledExample[];
  /** Entries that could not be decoded (left out of the export, counted here). */
  unreadable: number;
}

/**
 * The Redis buffer of labelled examples between the gateway (which adds them) and the drift monitor
 * (which exports them to the dataset store). An export is exactly once: beginExport takes the pending
 * examples as a batch with an id, the store's append is idempotent on that id, and finishExport drops the
 * batch only after the store has it; a replica that dies in between leaves the batch for the next run.
 */
export class ExampleBuffer {
  constructor(
    private readonly redis: Redis,
    private readonly options: ExampleBufferOptions,
  ) {}

  async add(examples: readonly LabelledExample[], now = Date.now()): Promise<ExampleStatus[]> {
    if (examples.length === 0) return [];
    const args: Array<string | number> = [
      now,
      this.options.ttlSeconds * 1000,
      this.options.maxPending ?? DEFAULT_EXAMPLE_MAX_PENDING,
    ];
    for (const example of examples) args.push(example.id, example.label, encodeExample(example), example.at);
    const { prefix } = this.options;
    return (await this.redis.eval(
      ADD,
      3,
      redisKeys.examplesPending(prefix),
      redisKeys.examplesPendingByTime(prefix),
      redisKeys.examplesCounters(prefix),
      ...args,
    )) as ExampleStatus[];
  }

  /** The batch to export (an unfinished one first), or undefined when nothing is pending. */
  async beginExport(newBatchId: string, now = Date.now()): Promise<ExportBatch | undefined> {
    const { prefix } = this.options;
    const batchId = (await this.redis.eval(
      BEGIN_EXPORT,
      5,
      redisKeys.examplesPending(prefix),
      redisKeys.examplesPendingByTime(prefix),
      redisKeys.examplesExportInProgress(prefix),
      redisKeys.examplesExportBatch(prefix, newBatchId),
      redisKeys.examplesCounters(prefix),
      newBatchId,
      now - this.options.ttlSeconds * 1000,
    )) as string | null;
    if (!batchId) return undefined;
    const values = await this.redis.hvals(redisKeys.examplesExportBatch(prefix, batchId));
    const examples: LabelledExample[] = [];
    let unreadable = 0;
    for (const value of values) {
      const check = decodeExample(value);
      if (check.ok) examples.push(check.example);
      else unreadable++;
    }
    return { batchId, examples, unreadable };
  }

  /** Drops a batch the store now holds; false when it was not the batch in progress. */
  async finishExport(batch: ExportBatch): Promise<boolean> {
    const { prefix } = this.options;
    const done = await this.redis.eval(
      FINISH_EXPORT,
      3,
      redisKeys.examplesExportInProgress(prefix),
      redisKeys.examplesExportBatch(prefix, batch.batchId),
      redisKeys.examplesCounters(prefix),
      batch.batchId,
      batch.examples.length,
    );
    return done === 1;
  }

  /**
   * Removes examples by id from the buffer and from a batch being exported, in one atomic step; returns how
   * many were there. A Redis error rejects (an erasure must not report success it did not have).
   */
  async delete(ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const { prefix } = this.options;
    return (await this.redis.eval(
      DELETE,
      4,
      redisKeys.examplesPending(prefix),
      redisKeys.examplesPendingByTime(prefix),
      redisKeys.examplesExportInProgress(prefix),
      redisKeys.examplesCounters(prefix),
      redisKeys.examplesExportBatch(prefix, ''),
      ...ids,
    )) as number;
  }

  /** When the oldest pending example was labelled (ms), or undefined when none is pending. */
  async oldestPendingAt(): Promise<number | undefined> {
    const [, score] = await this.redis.zrange(
      redisKeys.examplesPendingByTime(this.options.prefix),
      0,
      0,
      'WITHSCORES',
    );
    return score === undefined ? undefined : Number(score);
  }

  /** True while a batch taken for export has not been finished (it is exported before anything new). */
  async exportInProgress(): Promise<boolean> {
    return (await this.redis.exists(redisKeys.examplesExportInProgress(this.options.prefix))) === 1;
  }

  async pendingCount(): Promise<number> {
    return this.redis.hlen(redisKeys.examplesPending(this.options.prefix));
  }

  async counters(): Promise<Record<ExampleCounter, number>> {
    const raw = await this.redis.hgetall(redisKeys.examplesCounters(this.options.prefix));
    return Object.fromEntries(EXAMPLE_COUNTERS.map((name) => [name, Number(raw[name] ?? 0)])) as Record<
      ExampleCounter,
      number
    >;
  }
}
