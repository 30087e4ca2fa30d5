import type { ChainableCommander, Redis } from 'ioredis';

/**
 * Buckets in a ring unless told otherwise. The newest (K-1)/K of the capacity always survives a rotation
 * (7/8 here), and a lookup reads K hashes in one script call; more buckets keep more of the capacity at
 * every moment but cost more hash reads per lookup.
 */
export const DEFAULT_RING_BUCKETS = 8;

/** Fields per script call: well under Lua's unpack limit, and short enough to keep Redis responsive. */
const CHUNK = 1_000;

/**
 * What every write shares: the ring's state, and starting a new bucket (deleting the one that falls out of
 * the ring) when the current one holds `capacity` entries or is `slot` ms old. The time is Redis's own
 * (TIME), so writers on machines with skewed clocks rotate alike. Each bucket expires `ttl` ms after it was
 * started, so a ring nobody writes to empties itself.
 * State hash: g = current generation, t = when it started (ms), n = entries in it.
 * KEYS: state. ARGV: slot ms, bucket capacity, buckets (K), bucket TTL ms, bucket key prefix, then field,
 * value pairs (from ARGV[6]).
 */
const WRITE_PRELUDE = `
local slot, cap, k, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local base = ARGV[5]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'g', 't', 'n')
local gen, started, count = tonumber(state[1]) or 0, tonumber(state[2]) or 0, tonumber(state[3]) or 0
local rotations = 0
local function seal()
  if gen > 0 then redis.call('PEXPIREAT', base .. gen, started + ttl) end
end
local function rotate()
  seal()
  gen = gen + 1
  started = now
  count = 0
  rotations = rotations + 1
  -- The bucket leaving the ring, and whatever a lost state left under the new number.
  redis.call('UNLINK', base .. (gen - k), base .. gen)
end
-- Writes the pairs at the given ARGV positions (of their fields) to the current bucket, rotating as needed.
local function write(positions)
  -- The first write is one Redis refuses at maxmemory (HSET), so an out-of-memory Redis refuses the whole
  -- script: a rotation's PEXPIREAT and UNLINK first would count as writes and let every later one through.
  redis.call('HSET', KEYS[1], 'g', gen, 't', started, 'n', count)
  if gen == 0 or now - started >= slot or now < started then rotate() end
  for _, i in ipairs(positions) do
    if count >= cap then rotate() end
    count = count + redis.call('HSET', base .. gen, ARGV[i], ARGV[i + 1])
  end
  seal()
  redis.call('HSET', KEYS[1], 'g', gen, 't', started, 'n', count)
  redis.call('PEXPIRE', KEYS[1], ttl)
end`;

/** Adds every pair (a field already in the newest bucket is overwritten). Returns the buckets started. */
const ADD = `${WRITE_PRELUDE}
local positions = {}
for i = 6, #ARGV, 2 do positions[#positions + 1] = i end
write(positions)
return rotations`;

/**
 * The newest live bucket holding a field, and its value there (nil, false when none holds it). Expects
 * `gen` (current generation) and `k` (buckets) as locals of the script it is part of.
 */
const HOLDER = `
local function holder(base, field)
  local g = gen
  while g > 0 and g > gen - k do
    local value = redis.call('HGET', base .. g, field)
    if value then return g, value end
    g = g - 1
  end
  return nil, false
end`;

/**
 * Claims fields for values, all or none: a field some live bucket holds with another value is a conflict.
 * Returns {conflicts, written}: the 0-based pair indices in conflict, and when there are none, those of the
 * fields no bucket held, which are written (a field already held with the same value stays where it is).
 */
const CLAIM = `${WRITE_PRELUDE}${HOLDER}
local conflicts, fresh = {}, {}
for i = 6, #ARGV, 2 do
  local _, held = holder(base, ARGV[i])
  if not held then fresh[#fresh + 1] = i
  elseif held ~= ARGV[i + 1] then conflicts[#conflicts + 1] = (i - 6) / 2 end
end
if #conflicts > 0 then return {conflicts, {}} end
if #fresh > 0 then write(fresh) end
local written = {}
for n, i in ipairs(fresh) do written[n] = (i - 6) / 2 end
return {conflicts, written}`;

/**
 * Gives claimed fields up: deletes each field from the newest live bucket holding it, if it holds the given
 * value there (a field claimed since for another value stays). KEYS: state. ARGV: K, bucket key prefix, then
 * field, value pairs. Returns the fields deleted.
 */
const RELEASE = `
local gen = tonumber(redis.call('HGET', KEYS[1], 'g')) or 0
local k = tonumber(ARGV[1])
${HOLDER}
local released = 0
for i = 3, #ARGV, 2 do
  local g, held = holder(ARGV[2], ARGV[i])
  if held == ARGV[i + 1] then released = released + redis.call('HDEL', ARGV[2] .. g, ARGV[i]) end
end
return released`;

/**
 * The value of each field in the newest bucket that has it (false where none has).
 * KEYS: state. ARGV: buckets (K), bucket key prefix, then fields.
 */
const GET = `
local gen = tonumber(redis.call('HGET', KEYS[1], 'g')) or 0
local k = tonumber(ARGV[1])
local n = #ARGV - 2
local found = {}
for i = 1, n do found[i] = false end
local missing = n
local g = gen
while g > 0 and g > gen - k and missing > 0 do
  local values = redis.call('HMGET', ARGV[2] .. g, unpack(ARGV, 3))
  for i = 1, n do
    if not found[i] and values[i] then
      found[i] = values[i]
      missing = missing - 1
    end
  end
  g = g - 1
end
return found`;

/** What a writer must know besides the key: the bounds. */
export interface RingLimits {
  /** Most entries the ring holds at once, over all its buckets (at least the number of buckets). */
  maxEntries: number;
  /**
   * An entry stays at least this long (ms) unless `maxEntries` newer ones push it out first; it is gone at
   * most retainMs x K/(K-1) after it was written.
   */
  retainMs: number;
}

export interface CappedHashRingOptions {
  /** The ring's state is `<key>:ring`, its bucket of generation n the hash `<key>:gen:<n>`. */
  key: string;
  /** Writers only: readers find the current bucket in the state. */
  limits?: RingLimits;
  /** K, the same for every writer and reader of a key (default DEFAULT_RING_BUCKETS). */
  buckets?: number;
}

interface RingCommands {
  rmRingAdd(state: string, ...args: Array<string | number>): Promise<number>;
  rmRingClaim(state: string, ...args: Array<string | number>): Promise<[number[], number[]]>;
  rmRingRelease(state: string, ...args: Array<string | number>): Promise<number>;
  rmRingGet(state: string, ...args: Array<string | number>): Promise<Array<string | null>>;
}

/**
 * A key/value index whose memory is bounded by count, for data that may be lost (the prediction index,
 * the duplicate-result cache) in a Redis that must not evict (BullMQ needs `noeviction`).
 *
 * K hashes form a ring; writes go to the newest. When it holds maxEntries/K entries, or it is
 * retainMs/(K-1) old, a write starts the next one and deletes the oldest, in one script, so concurrent
 * writers (every worker) never push the ring past its bound: at most maxEntries entries, and at least the
 * newest (K-1)/K of them. A lookup reads the K buckets newest first in one script call.
 *
 * Not for Redis Cluster: the scripts name buckets they find in the state (BullMQ's keys are not
 * cluster-safe here either).
 */
export class CappedHashRing {
  private readonly buckets: number;
  private readonly stateKey: string;
  private readonly bucketPrefix: string;

  constructor(
    private readonly redis: Redis,
    private readonly options: CappedHashRingOptions,
  ) {
    this.buckets = options.buckets ?? DEFAULT_RING_BUCKETS;
    if (!Number.isInteger(this.buckets) || this.buckets < 2)
      throw new Error(`a ring needs at least 2 buckets, got ${this.buckets}`);
    const limits = options.limits;
    if (limits && !(Number.isInteger(limits.maxEntries) && limits.maxEntries >= this.buckets))
      throw new Error(
        `maxEntries must be an integer >= ${this.buckets} (the buckets), got ${limits.maxEntries}`,
      );
    if (limits && !(limits.retainMs > 0)) throw new Error(`retainMs must be > 0, got ${limits.retainMs}`);
    this.stateKey = ringStateKey(options.key);
    this.bucketPrefix = `${options.key}:gen:`;
    // Idempotent: ioredis keeps one definition per name and sends EVALSHA, loading the script on NOSCRIPT.
    redis.defineCommand('rmRingAdd', { numberOfKeys: 1, lua: ADD });
    redis.defineCommand('rmRingGet', { numberOfKeys: 1, lua: GET });
    redis.defineCommand('rmRingClaim', { numberOfKeys: 1, lua: CLAIM });
    redis.defineCommand('rmRingRelease', { numberOfKeys: 1, lua: RELEASE });
  }

  /** Entries per bucket: K of them never exceed maxEntries. */
  get bucketCapacity(): number {
    return Math.floor(this.limits().maxEntries / this.buckets);
  }

  /** Adds the entries (a field already in the newest bucket is overwritten) in one atomic step per 1,000. */
  async add(entries: ReadonlyArray<readonly [field: string, value: string]>): Promise<void> {
    if (entries.length === 0) return;
    const pipeline = this.redis.pipeline();
    this.addTo(pipeline, entries);
    const failed = (await pipeline.exec())?.find(([error]) => error);
    if (failed) throw failed[0] as Error;
  }

  /** Queues the adds on a pipeline of this ring's connection, to go with other writes in one round trip. */
  addTo(pipeline: ChainableCommander, entries: ReadonlyArray<readonly [field: string, value: string]>): void {
    const header = this.writeHeader();
    for (let i = 0; i < entries.length; i += CHUNK) {
      const args = entries.slice(i, i + CHUNK).flatMap(([field, value]) => [field, value]);
      (pipeline as unknown as RingCommands).rmRingAdd(this.stateKey, ...header, ...args);
    }
  }

  /**
   * Claims each field for its value, all or none, in one atomic step: when no live entry holds one of the
   * fields with another value, the fields not yet held are added (bounded like `add`) and `written` names
   * them (indices into `entries`); otherwise nothing is written and `conflicts` names the entries in
   * conflict. Of concurrent claims of one field for different values exactly one succeeds. One script call,
   * so keep the entries to thousands, not millions.
   */
  async claim(
    entries: ReadonlyArray<readonly [field: string, value: string]>,
  ): Promise<{ conflicts: number[]; written: number[] }> {
    if (entries.length === 0) return { conflicts: [], written: [] };
    const args = entries.flatMap(([field, value]) => [field, value]);
    const commands = this.redis as unknown as RingCommands;
    const [conflicts, written] = await commands.rmRingClaim(this.stateKey, ...this.writeHeader(), ...args);
    return { conflicts, written };
  }

  /**
   * Undoes claims (e.g. `written` of a claim whose work was then refused): each field is deleted where it
   * still holds its value. Returns how many were deleted.
   */
  async release(entries: ReadonlyArray<readonly [field: string, value: string]>): Promise<number> {
    if (entries.length === 0) return 0;
    const args = entries.flatMap(([field, value]) => [field, value]);
    const commands = this.redis as unknown as RingCommands;
    return commands.rmRingRelease(this.stateKey, this.buckets, this.bucketPrefix, ...args);
  }

  /** The value of each field (the newest), undefined where the ring has none. */
  async get(fields: readonly string[]): Promise<Array<string | undefined>> {
    if (fields.length === 0) return [];
    const commands = this.redis as unknown as RingCommands;
    const chunks: Array<Promise<Array<string | null>>> = [];
    for (let i = 0; i < fields.length; i += CHUNK) {
      chunks.push(
        commands.rmRingGet(this.stateKey, this.buckets, this.bucketPrefix, ...fields.slice(i, i + CHUNK)),
      );
    }
    return (await Promise.all(chunks)).flat().map((value) => value ?? undefined);
  }

  /** The current generation and the entries of each live bucket, newest first (tests, capacity reports). */
  async inspect(): Promise<{ generation: number; bucketEntries: number[] }> {
    const generation = Number((await this.redis.hget(this.stateKey, 'g')) ?? 0);
    const live = Array.from({ length: Math.min(this.buckets, generation) }, (_, back) => generation - back);
    const pipeline = this.redis.pipeline();
    for (const gen of live) pipeline.hlen(this.bucketPrefix + gen);
    const replies = (await pipeline.exec()) ?? [];
    return { generation, bucketEntries: replies.map(([, count]) => Number(count)) };
  }

  /** The write scripts' ARGV before the pairs: slot ms, bucket capacity, K, bucket TTL ms, bucket prefix. */
  private writeHeader(): Array<string | number> {
    const slotMs = Math.max(1, Math.ceil(this.limits().retainMs / (this.buckets - 1)));
    return [slotMs, this.bucketCapacity, this.buckets, slotMs * this.buckets, this.bucketPrefix];
  }

  private limits(): RingLimits {
    if (!this.options.limits) throw new Error(`ring ${this.options.key} was opened for reading only`);
    return this.options.limits;
  }
}

/** The state hash of the ring at `key` (its buckets are `<key>:gen:<n>`). */
export function ringStateKey(key: string): string {
  return `${key}:ring`;
}
