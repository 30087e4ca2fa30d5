import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import IORedis from 'ioredis';
import { CappedHashRing, ringStateKey } from './capped-hash-ring';

// Real Redis; a key prefix per run keeps runs apart, and every key under it is deleted at the end.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `test-ring-${process.pid}-${Date.now().toString(36)}`;
const redis = new IORedis(REDIS_URL);
let rings = 0;
const DAY_MS = 86_400_000;

afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

/** A ring under a key of its own. */
function ring(maxEntries: number, retainMs = DAY_MS, buckets = 8) {
  const key = `${prefix}:ring-${++rings}`;
  return { key, ring: new CappedHashRing(redis, { key, limits: { maxEntries, retainMs }, buckets }) };
}

/** Every entry of every bucket under `key`, counted in one script (so atomically with respect to writers). */
async function entriesUnder(key: string): Promise<{ total: number; buckets: number[] }> {
  const lua = `local out = {}
for _, k in ipairs(redis.call('KEYS', ARGV[1])) do out[#out + 1] = redis.call('HLEN', k) end
return out`;
  const counts = (await redis.eval(lua, 0, `${key}:gen:*`)) as number[];
  return { total: counts.reduce((sum, n) => sum + n, 0), buckets: counts };
}

const entry = (i: number): [string, string] => [`id-${i}`, `value-${i}`];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A TCP port nothing listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()));
    });
  });
}

describe('CappedHashRing', () => {
  it('never holds more than maxEntries, drops the oldest bucket first and keeps the newest 7/8', async () => {
    const { key, ring: index } = ring(80); // 8 buckets of 10
    expect(index.bucketCapacity).toBe(10);
    for (let i = 0; i < 300; i += 3) {
      await index.add([entry(i), entry(i + 1), entry(i + 2)]);
      const { total, buckets } = await entriesUnder(key);
      expect(total).toBeLessThanOrEqual(80);
      expect(buckets.length).toBeLessThanOrEqual(8);
      expect(Math.max(...buckets)).toBeLessThanOrEqual(10);
    }
    const values = await index.get(Array.from({ length: 300 }, (_, i) => `id-${i}`));
    const kept = values.flatMap((value, i) => (value === undefined ? [] : [i]));
    // Exactly the newest ones: at least (K-1) x B = 70 of them, none older than a dropped one.
    expect(kept.length).toBeGreaterThanOrEqual(70);
    expect(kept.length).toBeLessThanOrEqual(80);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => 300 - kept.length + i));
    expect(values[299]).toBe('value-299');
    const { generation, bucketEntries } = await index.inspect();
    expect(generation).toBe(30);
    expect(bucketEntries.reduce((sum, n) => sum + n, 0)).toBe(kept.length);
  });

  it('keeps the bound when one write holds more entries than the whole ring', async () => {
    const { key, ring: index } = ring(80);
    await index.add(Array.from({ length: 2_500 }, (_, i) => entry(i)));
    expect((await entriesUnder(key)).total).toBeLessThanOrEqual(80);
    const values = await index.get(['id-2499', 'id-2430', 'id-0', 'id-2000']);
    expect(values).toEqual(['value-2499', 'value-2430', undefined, undefined]);
  });

  it('finds recent entries, the newest value of a field written twice, and nothing for unknown fields', async () => {
    const { ring: index } = ring(16, DAY_MS, 4); // 4 buckets of 4
    await index.add([['a', 'first']]);
    await index.add([entry(1), entry(2), entry(3), entry(4)]); // fills the bucket; "a" moves on to the next
    await index.add([['a', 'second']]);
    expect(await index.get(['a', 'id-1', 'missing'])).toEqual(['second', 'value-1', undefined]);
    // A field overwritten in the newest bucket counts once.
    const { ring: small, key } = ring(8, DAY_MS, 2); // 2 buckets of 4
    for (let i = 0; i < 10; i++) await small.add([['same', String(i)]]);
    expect((await entriesUnder(key)).total).toBe(1);
    expect(await small.get(['same'])).toEqual(['9']);
  });

  it('holds every entry for retainMs, and drops it by retainMs x K/(K-1) even when nobody writes', async () => {
    // K = 4 buckets, retain 1.5 s: a bucket rotates every 0.5 s and lives 2 s.
    const { key, ring: index } = ring(1_000, 1_500, 4);
    const before = Date.now();
    await index.add([['early', 'x']]);
    const written = Date.now();
    let lastWritten = written;
    for (let i = 0; i < 5; i++) {
      await sleep(200);
      await index.add([entry(i)]); // rotates by time on the way
      lastWritten = Date.now();
      if (Date.now() - before < 1_400) expect(await index.get(['early'])).toEqual(['x']);
    }
    expect((await index.inspect()).generation).toBeGreaterThan(1);
    // 2 s after the write the bucket has expired, with or without more writes.
    await sleep(Math.max(0, written + 2_100 - Date.now()));
    expect(await index.get(['early'])).toEqual([undefined]);
    await sleep(Math.max(0, lastWritten + 2_100 - Date.now()));
    expect((await entriesUnder(key)).total).toBe(0);
    // The state lives as long as the newest bucket: an idle ring leaves nothing behind.
    expect(await redis.exists(ringStateKey(key))).toBe(0);
  });

  it('keeps the bound with concurrent writers on their own connections', async () => {
    const { key } = ring(400); // 8 buckets of 50
    const writers = Array.from({ length: 6 }, () => new IORedis(REDIS_URL));
    const ringsOf = writers.map(
      (connection) => new CappedHashRing(connection, { key, limits: { maxEntries: 400, retainMs: DAY_MS } }),
    );
    let writing = true;
    let largest = 0;
    const watcher = (async () => {
      while (writing) {
        largest = Math.max(largest, (await entriesUnder(key)).total);
        await sleep(1);
      }
    })();
    try {
      await Promise.all(
        ringsOf.map(async (writer, w) => {
          for (let i = 0; i < 300; i += 5) {
            await writer.add(
              Array.from({ length: 5 }, (_, j) => [`w${w}-${i + j}`, String(i + j)] as [string, string]),
            );
          }
        }),
      );
    } finally {
      writing = false;
      await watcher;
      writers.forEach((connection) => connection.disconnect());
    }
    const { total, buckets } = await entriesUnder(key);
    expect(largest).toBeLessThanOrEqual(400);
    expect(total).toBeLessThanOrEqual(400);
    expect(total).toBeGreaterThanOrEqual(350);
    expect(Math.max(...buckets)).toBeLessThanOrEqual(50);
    // 1,800 entries went in: 36 buckets were started, and every writer's last entry is still there.
    expect((await new CappedHashRing(redis, { key }).inspect()).generation).toBe(36);
    expect(await new CappedHashRing(redis, { key }).get(ringsOf.map((_, w) => `w${w}-299`))).toEqual(
      ringsOf.map(() => '299'),
    );
  });

  it('starts over within its bound when its state is lost', async () => {
    const { key, ring: index } = ring(80);
    await index.add(Array.from({ length: 75 }, (_, i) => entry(i)));
    await redis.del(ringStateKey(key));
    await index.add(Array.from({ length: 75 }, (_, i) => entry(1_000 + i)));
    // The old buckets 1.. are overwritten from scratch; those past the new generation expire on their own.
    expect((await index.get(['id-1074']))[0]).toBe('value-1074');
    const fresh = await index.inspect();
    expect(fresh.bucketEntries.reduce((sum, n) => sum + n, 0)).toBeLessThanOrEqual(80);
  });

  it('claims fields all or none: a field held with another value refuses the whole claim', async () => {
    const { key, ring: claims } = ring(80);
    expect(
      await claims.claim([
        ['a', 'x'],
        ['b', 'y'],
      ]),
    ).toEqual({ conflicts: [], written: [0, 1] });
    // The same values again (a retry) and new fields beside them: claimed, nothing written twice.
    expect(
      await claims.claim([
        ['b', 'y'],
        ['c', 'z'],
      ]),
    ).toEqual({ conflicts: [], written: [1] });
    expect((await entriesUnder(key)).total).toBe(3);
    // Another value for "a" and for "c": both named, and "d" of the same claim is not taken.
    expect(
      await claims.claim([
        ['d', 'w'],
        ['a', 'other'],
        ['c', 'other'],
      ]),
    ).toEqual({
      conflicts: [1, 2],
      written: [],
    });
    expect(await claims.get(['a', 'c', 'd'])).toEqual(['x', 'z', undefined]);
    expect(await claims.claim([])).toEqual({ conflicts: [], written: [] });
  });

  it('releases claims that still hold their value, so the fields can be claimed for another', async () => {
    const { ring: claims } = ring(80);
    await claims.claim([
      ['a', 'x'],
      ['b', 'y'],
    ]);
    // "b" is held for "y", not "other": it stays.
    expect(
      await claims.release([
        ['a', 'x'],
        ['b', 'other'],
        ['never', 'v'],
      ]),
    ).toBe(1);
    expect(await claims.get(['a', 'b'])).toEqual([undefined, 'y']);
    expect(await claims.claim([['a', 'new']])).toEqual({ conflicts: [], written: [0] });
    expect(await claims.release([])).toBe(0);
  });

  it('lets exactly one of concurrent claims of a field for different values win', async () => {
    const { key } = ring(400);
    const claimers = Array.from({ length: 8 }, () => new IORedis(REDIS_URL));
    try {
      const outcomes = await Promise.all(
        claimers.map((connection, c) =>
          new CappedHashRing(connection, { key, limits: { maxEntries: 400, retainMs: DAY_MS } }).claim([
            [`own-${c}`, 'v'],
            ['contested', `claimer-${c}`],
          ]),
        ),
      );
      const winners = outcomes.flatMap((outcome, c) => (outcome.conflicts.length === 0 ? [c] : []));
      expect(winners).toHaveLength(1);
      expect(outcomes.filter((outcome) => outcome.conflicts.length > 0)).toEqual(
        Array(7).fill({ conflicts: [1], written: [] }),
      );
      const reader = new CappedHashRing(redis, { key });
      expect(await reader.get(['contested'])).toEqual([`claimer-${winners[0]}`]);
      // The losers' other fields were not taken either.
      const own = await reader.get(claimers.map((_, c) => `own-${c}`));
      expect(own.filter((value) => value !== undefined)).toHaveLength(1);
    } finally {
      claimers.forEach((connection) => connection.disconnect());
    }
  });

  it('keeps claims within the bound, and frees a field once newer claims push it out', async () => {
    const { key, ring: claims } = ring(80); // 8 buckets of 10
    expect((await claims.claim([['old', 'first']])).conflicts).toEqual([]);
    for (let i = 0; i < 100; i += 5) {
      expect((await claims.claim(Array.from({ length: 5 }, (_, j) => entry(i + j)))).conflicts).toEqual([]);
      expect((await entriesUnder(key)).total).toBeLessThanOrEqual(80);
    }
    expect((await claims.claim([['old', 'second']])).conflicts).toEqual([]);
    expect(await claims.get(['old'])).toEqual(['second']);
  });

  it('frees a claimed field after retainMs x K/(K-1)', async () => {
    const { ring: claims } = ring(1_000, 300, 4); // a bucket lives 400 ms
    expect((await claims.claim([['short', 'x']])).conflicts).toEqual([]);
    expect((await claims.claim([['short', 'y']])).conflicts).toEqual([0]);
    await sleep(450);
    expect((await claims.claim([['short', 'y']])).conflicts).toEqual([]);
  });

  it('writes nothing at maxmemory: Redis refuses the whole script, rotation or not', async () => {
    // A Redis of its own: maxmemory is server-wide, and other suites share the usual one.
    const port = await freePort();
    const server = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    // Commands wait in the offline queue while the server starts.
    const own = new IORedis({ port });
    try {
      await own.ping();
      const key = 'oom-ring';
      const full = new CappedHashRing(own, { key, limits: { maxEntries: 80, retainMs: DAY_MS } });
      await own.config('SET', 'maxmemory-policy', 'noeviction');
      await own.config('SET', 'maxmemory', '1');
      // A fresh ring rotates first (its first bucket): that must not let the writes through.
      await expect(full.add([entry(1)])).rejects.toThrow(/OOM/);
      await expect(full.claim([['a', 'x']])).rejects.toThrow(/OOM/);
      expect(await own.keys(`${key}*`)).toEqual([]);
      await own.config('SET', 'maxmemory', '0');
      await full.add([entry(1)]);
      expect(await full.get(['id-1'])).toEqual(['value-1']);
    } finally {
      own.disconnect();
      server.kill();
    }
  });

  it('is read-only without limits, and refuses limits it cannot keep', async () => {
    const reader = new CappedHashRing(redis, { key: `${prefix}:reader` });
    expect(await reader.get(['x'])).toEqual([undefined]);
    await expect(reader.add([['x', 'y']])).rejects.toThrow('opened for reading only');
    await expect(reader.claim([['x', 'y']])).rejects.toThrow('opened for reading only');
    expect(
      () => new CappedHashRing(redis, { key: 'k', limits: { maxEntries: 4, retainMs: 1 }, buckets: 8 }),
    ).toThrow('maxEntries must be an integer >= 8');
  });
});
