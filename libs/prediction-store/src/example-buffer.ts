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
 * Lua shared by the scripts. A pending example's field is its id, and `~<tenant>` after it when it has a tenant;
 * `bucketOf` gives that tenant (`~` for none), whose own time index is `ARGV bucket prefix .. tenant`. `drop`
 * removes fields from the pending hash (KEYS[1]), the time index (KEYS[2]) and their tenants' time indexes.
 */
const BUCKETS = `
local function bucketOf(field)
  if string.len(field) > 33 and string.sub(field, 33, 33) == '~' then return string.sub(field, 34) end
  return '~'
end
local function drop(fields, bucketPrefix)
  for i = 1, #fields, 500 do
    local last = math.min(i + 499, #fields)
    redis.call('HDEL', KEYS[1], unpack(fields, i, last))
    redis.call('ZREM', KEYS[2], unpack(fields, i, last))
  end
  for _, field in ipairs(fields) do redis.call('ZREM', bucketPrefix .. bucketOf(field), field) end
end
`;

/**
 * Adds examples keyed by field (one per text and tenant): the same text with the same label from the same tenant
 * is a duplicate and changes nothing; with another label it replaces the pending one (the latest label wins) and
 * counts as relabelled. Another tenant's label of the same text is a record of its own: no tenant can see or
 * change another's. Then drops pending examples older than the TTL and, beyond the cap, the oldest of the tenant
 * holding the most (counted as evicted: one tenant's flood evicts its own examples first), and refreshes the keys'
 * own TTL as a backstop.
 * KEYS: pending, pending-by-time, counters, pending-tenants. ARGV: now, ttlMs, max pending, bucket prefix, then
 * field, label, encoded, at per example.
 */
const ADD = `${BUCKETS}
local now, ttl, cap, bucketPrefix = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local statuses = {}
local touched = {}
for i = 5, #ARGV, 4 do
  local field, label, encoded, at = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  local existing = redis.call('HGET', KEYS[1], field)
  local status = 'stored'
  if existing then
    local ok, old = pcall(cjson.decode, existing)
    if ok and old.label == label then status = 'duplicate' else status = 'relabelled' end
  end
  if status ~= 'duplicate' then
    local bucket = bucketOf(field)
    redis.call('HSET', KEYS[1], field, encoded)
    redis.call('ZADD', KEYS[2], at, field)
    redis.call('ZADD', bucketPrefix .. bucket, at, field)
    redis.call('SADD', KEYS[4], bucket)
    touched[bucket] = true
  end
  redis.call('HINCRBY', KEYS[3], status, 1)
  statuses[#statuses + 1] = status
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. (now - ttl))
if #expired > 0 then
  drop(expired, bucketPrefix)
  redis.call('HINCRBY', KEYS[3], 'expired', #expired)
end
local over = redis.call('ZCARD', KEYS[2]) - cap
while over > 0 do
  -- The tenant holding the most; of equal holders, the one with the oldest example.
  local largest, size, since = nil, 0, nil
  for _, bucket in ipairs(redis.call('SMEMBERS', KEYS[4])) do
    local count = redis.call('ZCARD', bucketPrefix .. bucket)
    if count > 0 and count >= size then
      local first = tonumber(redis.call('ZRANGE', bucketPrefix .. bucket, 0, 0, 'WITHSCORES')[2])
      if count > size or first < since then largest, size, since = bucket, count, first end
    end
  end
  -- None left: what remains has no tenant index (written before there were any); its oldest go.
  local oldest = largest and redis.call('ZRANGE', bucketPrefix .. largest, 0, math.min(over, size) - 1)
    or redis.call('ZRANGE', KEYS[2], 0, over - 1)
  if #oldest == 0 then break end
  drop(oldest, bucketPrefix)
  redis.call('HINCRBY', KEYS[3], 'evicted', #oldest)
  over = over - #oldest
end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('PEXPIRE', KEYS[4], ttl)
for bucket in pairs(touched) do redis.call('PEXPIRE', bucketPrefix .. bucket, ttl) end
return statuses`;

/**
 * Moves every pending example into a batch of its own, unless a batch is already being exported (then that
 * batch's id is returned, so it is finished before anything else). Examples past their TTL are dropped first.
 * RENAME is atomic: an example added meanwhile lands in a fresh pending hash, never half in a batch. The
 * batch keeps no TTL: once taken for export it stays until it is in the store.
 * KEYS: pending, pending-by-time, in-progress marker, the new batch's hash, counters, pending-tenants. ARGV: the
 * new batch id, the oldest labelling time still kept (ms), bucket prefix.
 */
const BEGIN_EXPORT = `${BUCKETS}
local current = redis.call('GET', KEYS[3])
if current then return current end
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[2])
if #expired > 0 then
  drop(expired, ARGV[3])
  redis.call('HINCRBY', KEYS[5], 'expired', #expired)
end
if redis.call('HLEN', KEYS[1]) == 0 then return false end
redis.call('RENAME', KEYS[1], KEYS[4])
redis.call('PERSIST', KEYS[4])
redis.call('DEL', KEYS[2])
for _, bucket in ipairs(redis.call('SMEMBERS', KEYS[6])) do redis.call('DEL', ARGV[3] .. bucket) end
redis.call('DEL', KEYS[6])
redis.call('SET', KEYS[3], ARGV[1])
return ARGV[1]`;

/** KEYS: in-progress marker, the batch's hash, counters. ARGV: batch id, examples exported. */
const FINISH_EXPORT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HINCRBY', KEYS[3], 'exported', tonumber(ARGV[2]))
return 1`;

/**
 * Removes the examples of the given ids, every tenant's, from the pending hash, its time indexes and the batch
 * being exported (named by the marker, read in the same step, so a batch begun meanwhile cannot keep them), and
 * counts them `deleted`. Reads every field of both hashes once: erasures are rare, and a text's fields differ
 * only by the tenant after its id.
 * KEYS: pending, pending-by-time, export-in-progress, counters. ARGV: batch key prefix, bucket prefix, then ids.
 */
const DELETE = `${BUCKETS}
local wanted = {}
for i = 3, #ARGV do wanted[ARGV[i]] = true end
local function fieldsOf(key)
  local found = {}
  for _, field in ipairs(redis.call('HKEYS', key)) do
    if wanted[string.sub(field, 1, 32)] then found[#found + 1] = field end
  end
  return found
end
local pending = fieldsOf(KEYS[1])
drop(pending, ARGV[2])
local removed = #pending
local batch = redis.call('GET', KEYS[3])
if batch then
  local batchKey = ARGV[1] .. batch
  local held = fieldsOf(batchKey)
  for i = 1, #held, 500 do
    removed = removed + redis.call('HDEL', batchKey, unpack(held, i, math.min(i + 499, #held)))
  end
end
if removed > 0 then redis.call('HINCRBY', KEYS[4], 'deleted', removed) end
return removed`;

/** An example's field in the pending hash: its id, and its tenant after a `~` (tenant names hold no `~`). */
export function pendingExampleField(example: Pick<LabelledExample, 'id' | 'tenant'>): string {
  return example.tenant === undefined ? example.id : `${example.id}~${example.tenant}`;
}

/** Examples waiting at most unless told otherwise (EXAMPLE_MAX_PENDING); the oldest are evicted first. */
export const DEFAULT_EXAMPLE_MAX_PENDING = 100_000;

export interface ExampleBufferOptions {
  prefix: string;
  /** How long an example waits in Redis for an export before it is dropped (texts are personal data). */
  ttlSeconds: number;
  /**
   * Most examples waiting for an export, every tenant's together (default DEFAULT_EXAMPLE_MAX_PENDING); beyond it
   * the oldest of the tenant holding the most are dropped and counted as `evicted`. A batch being exported is a
   * second set of at most this many.
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
    const { prefix } = this.options;
    args.push(redisKeys.examplesPendingOfTenantPrefix(prefix));
    for (const example of examples)
      args.push(pendingExampleField(example), example.label, encodeExample(example), example.at);
    return (await this.redis.eval(
      ADD,
      4,
      redisKeys.examplesPending(prefix),
      redisKeys.examplesPendingByTime(prefix),
      redisKeys.examplesCounters(prefix),
      redisKeys.examplesPendingTenants(prefix),
      ...args,
    )) as ExampleStatus[];
  }

  /** The batch to export (an unfinished one first), or undefined when nothing is pending. */
  async beginExport(newBatchId: string, now = Date.now()): Promise<ExportBatch | undefined> {
    const { prefix } = this.options;
    const batchId = (await this.redis.eval(
      BEGIN_EXPORT,
      6,
      redisKeys.examplesPending(prefix),
      redisKeys.examplesPendingByTime(prefix),
      redisKeys.examplesExportInProgress(prefix),
      redisKeys.examplesExportBatch(prefix, newBatchId),
      redisKeys.examplesCounters(prefix),
      redisKeys.examplesPendingTenants(prefix),
      newBatchId,
      now - this.options.ttlSeconds * 1000,
      redisKeys.examplesPendingOfTenantPrefix(prefix),
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
   * Removes examples by id (every tenant's record of each text) from the buffer and from a batch being exported,
   * in one atomic step; returns how many records were there. A Redis error rejects (an erasure must not report
   * success it did not have).
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
      redisKeys.examplesPendingOfTenantPrefix(prefix),
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
