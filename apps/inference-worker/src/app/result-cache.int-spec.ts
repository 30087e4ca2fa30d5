import { createServer } from 'node:net';
import { Logger } from '@nestjs/common';
import IORedis, { Redis } from 'ioredis';
import { REDIS_BYTES, deletePrefix } from '@reputation-monitor/app-harness';
import { redisKeys } from '@reputation-monitor/contracts';
import { CappedHashRing } from '@reputation-monitor/redis-connection';
import { ResultCache, ResultCacheEvents, ResultCacheOptions, resultCacheHash } from './result-cache';
import type { TextScore } from './loaded-model';
import type { CacheLookupOutcome, CacheOperation } from './worker-metrics';

// Real Redis; a key prefix per run keeps runs apart, and every key under it is deleted at the end.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `test-result-cache-${process.pid}-${Date.now().toString(36)}`;
const VERSION = 'fp32-0123456789ab';
const redis = new IORedis(REDIS_URL);

beforeAll(() => Logger.overrideLogger(false)); // the cache's warnings about the broken clients below

afterAll(async () => {
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

class Recorder implements ResultCacheEvents {
  lookups: Record<CacheLookupOutcome, number> = { hit: 0, miss: 0, error: 0 };
  errors: Record<CacheOperation, number> = { lookup: 0, store: 0 };
  deduplicated = 0;
  private waiters: Array<() => void> = [];
  /** Resolves once some job has joined a computation in flight. */
  joined(): Promise<void> {
    return this.deduplicated > 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
  cacheLookedUp(outcome: CacheLookupOutcome, texts: number): void {
    this.lookups[outcome] += texts;
  }
  cacheFailed(operation: CacheOperation): void {
    this.errors[operation] += 1;
  }
  textsDeduplicated(texts: number): void {
    this.deduplicated += texts;
    if (this.deduplicated > 0) this.waiters.splice(0).forEach((resolve) => resolve());
  }
}

/** A stand-in for the engine: a distinct score per text, and a record of every call. */
function fakeModel() {
  const calls: string[][] = [];
  const scoreOf = (text: string): TextScore => {
    const negative = (text.length % 7) / 10 + 1 / 3 / 1e6;
    return {
      label: 'neutral',
      scores: { negative, neutral: 0.5, positive: 0.5 - negative },
      tokens: text.length + 2,
      truncated: text.length > 100,
    };
  };
  const compute = async (texts: string[]): Promise<TextScore[]> => {
    calls.push(texts);
    return texts.map(scoreOf);
  };
  return { calls, compute, scoreOf };
}

/** A compute that holds its texts until released, as the micro-batcher does while a batch runs. */
function gatedModel() {
  const model = fakeModel();
  let release!: () => void;
  let fail!: (error: Error) => void;
  const gate = new Promise<void>((resolve, reject) => ((release = resolve), (fail = reject)));
  let started!: () => void;
  const entered = new Promise<void>((resolve) => (started = resolve));
  const compute = async (texts: string[]): Promise<TextScore[]> => {
    started();
    await gate;
    return model.compute(texts);
  };
  return { ...model, compute, entered, release: () => release(), fail: (error: Error) => fail(error) };
}

let counter = 0;
/** Texts no other test has cached. */
function fresh(label: string): string {
  counter += 1;
  return `${label} number ${counter} at ${Date.now()}`;
}

function cacheWith(client: Redis, options: Partial<ResultCacheOptions> = {}) {
  const events = new Recorder();
  const cache = new ResultCache(
    client,
    { prefix, ttlSeconds: 600, maxEntries: 10_000, maxTokens: 512, ...options },
    events,
  );
  return { cache, events };
}

/** The cache's field of a text, and the ring it lives in (read and written as the worker does). */
const keyOf = (text: string, version = VERSION) =>
  redisKeys.resultCacheField(version, resultCacheHash(text, 512));
const ring = (ownPrefix = prefix) =>
  new CappedHashRing(redis, {
    key: redisKeys.resultCache(ownPrefix),
    limits: { maxEntries: 10_000, retainMs: 600_000 },
  });
const cached = async (text: string) => (await ring().get([keyOf(text)]))[0];

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('ResultCache against Redis', () => {
  it('computes a miss, stores it, and serves the same text from Redis the next time', async () => {
    const { cache, events } = cacheWith(redis);
    const model = fakeModel();
    const texts = [fresh('first'), fresh('second')];

    const computed = await cache.score(VERSION, texts, model.compute);
    expect(computed).toEqual(texts.map(model.scoreOf));
    expect(model.calls).toEqual([texts]);
    expect(events.lookups).toEqual({ hit: 0, miss: 2, error: 0 });

    const again = await cache.score(VERSION, [texts[1], texts[0]], model.compute);
    expect(model.calls).toHaveLength(1);
    expect(again).toEqual([computed[1], computed[0]]);
    // The very numbers the model produced, not a rounding of them.
    expect(again[1].scores.negative).toBe(computed[0].scores.negative);
    expect(events.lookups).toEqual({ hit: 2, miss: 2, error: 0 });
    expect(events.errors).toEqual({ lookup: 0, store: 0 });
  });

  it('serves hits in place and computes only the misses of a job', async () => {
    const { cache, events } = cacheWith(redis);
    const model = fakeModel();
    const known = fresh('known');
    await cache.score(VERSION, [known], model.compute);
    const unknown = fresh('unknown');

    const scored = await cache.score(VERSION, [unknown, known, unknown], model.compute);
    expect(model.calls).toEqual([[known], [unknown]]);
    expect(scored).toEqual([model.scoreOf(unknown), model.scoreOf(known), model.scoreOf(unknown)]);
    expect(events.lookups).toEqual({ hit: 1, miss: 3, error: 0 });
  });

  it('keeps every entry at least the TTL and at most TTL x 8/7 (the lifetime of its bucket)', async () => {
    const own = `${prefix}-ttl`;
    const { cache } = cacheWith(redis, { ttlSeconds: 120, prefix: own });
    const text = fresh('ttl');
    await cache.score(VERSION, [text], fakeModel().compute);
    const bucket = `${redisKeys.resultCache(own)}:gen:1`;
    expect(await redis.hexists(bucket, keyOf(text))).toBe(1);
    const ttl = await redis.pttl(bucket);
    expect(ttl).toBeGreaterThan(120_000);
    expect(ttl).toBeLessThanOrEqual(Math.ceil(120_000 / 7) * 8);
  });

  it('holds at most RESULT_CACHE_MAX_ENTRIES results, and the newest still hit', async () => {
    const own = `${prefix}-bounded`;
    const { cache, events } = cacheWith(redis, { maxEntries: 1_000, prefix: own });
    const model = fakeModel();
    const texts = Array.from({ length: 3_000 }, () => fresh('bounded'));
    for (let i = 0; i < texts.length; i += 100)
      await cache.score(VERSION, texts.slice(i, i + 100), model.compute);
    const { bucketEntries } = await ring(own).inspect();
    const total = bucketEntries.reduce((sum, n) => sum + n, 0);
    expect(total).toBeLessThanOrEqual(1_000);
    expect(total).toBeGreaterThanOrEqual(875);
    const before = { ...events.lookups };
    await cache.score(VERSION, texts.slice(-800), model.compute);
    await cache.score(VERSION, texts.slice(0, 100), model.compute);
    expect(events.lookups.hit - before.hit).toBe(800);
    expect(events.lookups.miss - before.miss).toBe(100);
  });

  it('costs at most the bytes per entry docs/capacity.md sizes Redis with', async () => {
    const own = `${prefix}-sizes`;
    const { cache } = cacheWith(redis, { prefix: own, maxEntries: 80_000 });
    const model = fakeModel();
    const texts = Array.from({ length: 5_000 }, () => fresh('sized'));
    for (let i = 0; i < texts.length; i += 500)
      await cache.score(VERSION, texts.slice(i, i + 500), model.compute);
    const bucket = `${redisKeys.resultCache(own)}:gen:1`;
    expect(await redis.hlen(bucket)).toBe(5_000);
    const perEntry = Number(await redis.call('MEMORY', 'USAGE', bucket, 'SAMPLES', '0')) / 5_000;
    console.log(`result cache: ${perEntry.toFixed(0)} B per entry`);
    expect(perEntry).toBeLessThanOrEqual(REDIS_BYTES.cacheEntry);
  });

  it('shares an entry between texts the model sees alike, and keeps model versions apart', async () => {
    const { cache, events } = cacheWith(redis);
    const model = fakeModel();
    const tag = fresh('tag');
    await cache.score(VERSION, [`@alice ${tag} https://t.co/a`], model.compute);
    await cache.score(VERSION, [`@bob ${tag} http://example.com/b`], model.compute);
    expect(model.calls).toHaveLength(1);

    await cache.score('fp32-ffffffffffff', [`@alice ${tag} https://t.co/a`], model.compute);
    await cache.score(VERSION, [` @alice ${tag} https://t.co/a`], model.compute);
    expect(model.calls).toHaveLength(3);
    expect(events.lookups).toEqual({ hit: 1, miss: 3, error: 0 });
  });

  it('treats an entry it cannot read as a miss and replaces it', async () => {
    const { cache, events } = cacheWith(redis);
    const model = fakeModel();
    const text = fresh('corrupt');
    await ring().add([[keyOf(text), '{"label":"positive"}']]);
    expect(await cache.score(VERSION, [text], model.compute)).toEqual([model.scoreOf(text)]);
    expect(events.lookups.miss).toBe(1);
    expect(JSON.parse((await cached(text)) ?? 'null')).toEqual(model.scoreOf(text));
  });

  it('with a TTL of 0 neither reads nor writes Redis and computes every text, as without a cache', async () => {
    const { cache, events } = cacheWith(redis, { ttlSeconds: 0 });
    const model = fakeModel();
    const text = fresh('disabled');
    expect(await cache.score(VERSION, [text, text], model.compute)).toEqual([
      model.scoreOf(text),
      model.scoreOf(text),
    ]);
    await cache.score(VERSION, [text], model.compute);
    expect(model.calls).toEqual([[text, text], [text]]);
    expect(await cached(text)).toBeUndefined();
    expect(events.lookups).toEqual({ hit: 0, miss: 0, error: 0 });
    expect(events.deduplicated).toBe(0);
  });

  it('computes identical texts of one job once, and hands each its result in order', async () => {
    const { cache, events } = cacheWith(redis);
    const model = fakeModel();
    const [a, b] = [fresh('dup-a'), `@someone ${fresh('dup-b')}`];
    const texts = [a, b, a, `@other ${b.slice('@someone '.length)}`, a];
    const scored = await cache.score(VERSION, texts, model.compute);
    expect(model.calls).toEqual([[a, b]]);
    expect(scored).toEqual([a, b, a, b, a].map(model.scoreOf));
    expect(events.deduplicated).toBe(3);
    expect(events.lookups).toEqual({ hit: 0, miss: 5, error: 0 });
  });

  it('lets a job join an identical text another job is computing instead of computing it again', async () => {
    const { cache, events } = cacheWith(redis);
    const gated = gatedModel();
    const text = fresh('in-flight');
    const first = cache.score(VERSION, [text], gated.compute);
    await gated.entered;
    // The second job's own miss goes to inference; the shared text waits for the first job's batch.
    const second = cache.score(VERSION, [text, fresh('other')], gated.compute);
    await events.joined();
    gated.release();
    const [one, two] = await Promise.all([first, second]);
    expect(gated.calls).toEqual([[text], [expect.stringContaining('other')]]);
    expect(two[0]).toEqual(one[0]);
    expect(events.deduplicated).toBe(1);
  });

  it('fails every job that waits on a failed computation, and forgets it so the next job computes', async () => {
    const { cache, events } = cacheWith(redis);
    const gated = gatedModel();
    const text = fresh('failing');
    const first = cache.score(VERSION, [text], gated.compute);
    await gated.entered;
    const second = cache.score(VERSION, [text], gated.compute);
    await events.joined();
    gated.fail(new Error('inference failed: boom'));
    await Promise.all([
      expect(first).rejects.toThrow('inference failed: boom'),
      expect(second).rejects.toThrow('inference failed: boom'),
    ]);

    const model = fakeModel();
    expect(await cache.score(VERSION, [text], model.compute)).toEqual([model.scoreOf(text)]);
    expect(model.calls).toEqual([[text]]);
  });

  it('falls back to inference when Redis cannot be reached, and counts the failures', async () => {
    const broken = new IORedis({
      host: '127.0.0.1',
      port: await closedPort(),
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      disconnectTimeout: 10, // or its 2 s timer keeps Jest waiting after the run
    });
    broken.on('error', () => undefined);
    try {
      const { cache, events } = cacheWith(broken);
      const model = fakeModel();
      const texts = [fresh('outage'), fresh('outage')];
      expect(await cache.score(VERSION, texts, model.compute)).toEqual(texts.map(model.scoreOf));
      expect(model.calls).toEqual([texts]);
      expect(events.lookups).toEqual({ hit: 0, miss: 0, error: 2 });
      expect(events.errors).toEqual({ lookup: 1, store: 1 });
    } finally {
      broken.disconnect();
    }
  });

  it('falls back to inference on a client that was disconnected', async () => {
    const client = new IORedis(REDIS_URL);
    const { cache, events } = cacheWith(client);
    const model = fakeModel();
    const text = fresh('disconnected');
    await cache.score(VERSION, [text], model.compute);
    client.disconnect();

    // Cached a moment ago, but unreadable now: computed again rather than failed.
    expect(await cache.score(VERSION, [text], model.compute)).toEqual([model.scoreOf(text)]);
    expect(model.calls).toEqual([[text], [text]]);
    expect(events.lookups).toEqual({ hit: 0, miss: 1, error: 1 });
    expect(events.errors).toEqual({ lookup: 1, store: 1 });
  });
});
