import IORedis from 'ioredis';
import {
  FeedbackRecord,
  encodeIndexedPrediction,
  parseStreamEntry,
  predictionIndexBucket,
  redisKeys,
} from '@reputation-monitor/contracts';
import { CappedHashRing } from '@reputation-monitor/redis-connection';
import { FeedbackStore } from './feedback-store';
import { PredictionLog, readPredictionWindow } from './prediction-log';

// Real Redis; a key prefix per run keeps runs apart.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `test-predictions-${process.pid}-${Date.now().toString(36)}`;
const redis = new IORedis(REDIS_URL);
const log = new PredictionLog(redis, { prefix, streamMaxLen: 1_000, indexHours: 2, indexMaxEntries: 1_000 });
const feedback = new FeedbackStore(redis, prefix);
const model = { name: 'tiny', version: 'fp32-abc' };
const prediction = (id: string) => ({
  id,
  label: 'positive' as const,
  scores: { negative: 0.1, neutral: 0.2, positive: 0.7 },
  tokens: 5,
  truncated: false,
});

afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe('a window of the stream', () => {
  it('says when the stream cap cut into the window, and not when it only took older entries', async () => {
    const own = `${prefix}-trim`;
    const key = redisKeys.predictionStream(own);
    const stream = new PredictionLog(redis, {
      prefix: own,
      streamMaxLen: 1_000,
      indexHours: 0,
      indexMaxEntries: 8,
    });
    const window = { start: Date.now(), end: Date.now() + 60_000 };
    // No stream yet: nothing read, nothing lost.
    expect(await readPredictionWindow(redis, own, window, 100)).toEqual({
      entries: [],
      capped: false,
      trimmed: false,
    });
    // A stream that began inside the window, never trimmed: whole.
    for (let i = 0; i < 4; i++) {
      await stream.append([
        { predictions: [prediction(`in-${i}`)], model, source: undefined, at: Date.now() },
      ]);
      await new Promise((resolve) => setTimeout(resolve, 2)); // one entry per millisecond
    }
    expect(await readPredictionWindow(redis, own, window, 100)).toMatchObject({
      capped: false,
      trimmed: false,
    });
    // Entries from before the window, the oldest trimmed away: the window is whole (capped by `max` only).
    await redis.del(key);
    await redis.xadd(key, String(window.start - 5_000), 'id', 'old-1');
    await redis.xadd(key, String(window.start - 4_000), 'id', 'old-2');
    for (let i = 0; i < 4; i++) {
      await stream.append([
        { predictions: [prediction(`in-${i}`)], model, source: undefined, at: Date.now() },
      ]);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await redis.xtrim(key, 'MAXLEN', 5);
    const whole = await readPredictionWindow(redis, own, window, 3);
    expect(whole).toMatchObject({ capped: true, trimmed: false });
    expect(whole.entries).toHaveLength(3);
    // The cap reaches into the window: its first entries are gone, and the read says so.
    await redis.xtrim(key, 'MAXLEN', 2);
    const cut = await readPredictionWindow(redis, own, window, 100);
    expect(cut).toMatchObject({ capped: false, trimmed: true });
    expect(cut.entries.map(parseStreamEntry).map((entry) => entry?.id)).toEqual(['in-2', 'in-3']);
    // A later window that starts at the oldest entry left is whole again.
    const later = { start: Number(cut.entries[0][0].split('-')[0]), end: window.end };
    expect((await readPredictionWindow(redis, own, later, 100)).trimmed).toBe(false);
    await redis.del(key);
  });
});

describe('the worker-to-monitor and gateway-to-monitor records', () => {
  it('writes predictions the drift monitor reads back and the gateway finds by id, with their job and role', async () => {
    const at = Date.now();
    await log.append([
      { predictions: [prediction('a'), prediction('b')], model, source: 'x', at, jobId: 'job-1' },
      {
        predictions: [prediction('a')],
        model: { name: 'tiny', version: 'fp32-new' },
        source: 'x',
        at,
        role: 'shadow',
        index: false,
      },
    ]);
    const { entries, capped, trimmed } = await readPredictionWindow(
      redis,
      prefix,
      { start: at - 1_000, end: at + 1_000 },
      100,
    );
    expect(capped).toBe(false);
    expect(trimmed).toBe(false);
    const read = entries.map(parseStreamEntry);
    expect(read.map((entry) => [entry?.id, entry?.version, entry?.role])).toEqual([
      ['a', 'fp32-abc', 'production'],
      ['b', 'fp32-abc', 'production'],
      ['a', 'fp32-new', 'shadow'],
    ]);
    // The shadow prediction is not indexed: feedback on "a" corrects what the client got.
    const [a, b, missing] = await feedback.lookUp(['a', 'b', 'nope'], 2);
    expect(a).toEqual({ label: 'positive', at, modelVersion: 'fp32-abc', jobId: 'job-1' });
    expect(b?.jobId).toBe('job-1');
    expect(missing).toBeUndefined();
    expect(await feedback.lookUp(['a'], 0)).toEqual([undefined]);
    // The ring's buckets live PREDICTION_INDEX_HOURS x 8/7.
    const ttl = await redis.pttl(`${redisKeys.predictionIndex(prefix)}:gen:1`);
    expect(ttl).toBeGreaterThan(2 * 3_600_000);
    expect(ttl).toBeLessThanOrEqual(Math.ceil((2 * 3_600_000) / 7) * 8);
  });

  it('indexes at most PREDICTION_INDEX_MAX_ENTRIES predictions, keeping the newest', async () => {
    const own = `${prefix}-bounded`;
    const bounded = new PredictionLog(redis, {
      prefix: own,
      streamMaxLen: 1_000,
      indexHours: 24,
      indexMaxEntries: 1_000,
    });
    for (let job = 0; job < 60; job++) {
      const ids = Array.from({ length: 50 }, (_, i) => `p-${job * 50 + i}`);
      await bounded.append([{ predictions: ids.map(prediction), model, source: 'x', at: Date.now() }]);
    }
    const { bucketEntries } = await new CappedHashRing(redis, {
      key: redisKeys.predictionIndex(own),
    }).inspect();
    const total = bucketEntries.reduce((sum, n) => sum + n, 0);
    expect(total).toBeLessThanOrEqual(1_000);
    expect(total).toBeGreaterThanOrEqual(875);
    const store = new FeedbackStore(redis, own);
    const [newest, oldest] = await store.lookUp(['p-2999', 'p-0'], 24);
    expect(newest).toMatchObject({ label: 'positive', modelVersion: 'fp32-abc' });
    expect(oldest).toBeUndefined();
    const keys = await redis.keys(`${own}:*`);
    await redis.del(...keys);
  });

  it('still finds predictions in the hourly hashes of workers from before the ring', async () => {
    const at = Date.now() - 3_600_000;
    await redis.hset(
      redisKeys.legacyPredictionIndexHour(prefix, predictionIndexBucket(at)),
      'old-one',
      encodeIndexedPrediction({ label: 'negative', at, modelVersion: 'fp32-old', jobId: 'job-0' }),
    );
    const [old, missing] = await feedback.lookUp(['old-one', 'nowhere'], 2);
    expect(old).toEqual({ label: 'negative', at, modelVersion: 'fp32-old', jobId: 'job-0' });
    expect(missing).toBeUndefined();
    // Outside PREDICTION_INDEX_HOURS it is not looked for.
    expect(await feedback.lookUp(['old-one'], 0)).toEqual([undefined]);
  });

  it('caps a window read and says so', async () => {
    // Windows are cut by the stream ids, which Redis stamps at append time.
    const start = Date.now() - 60_000;
    await log.append([
      { predictions: ['p1', 'p2', 'p3'].map(prediction), model, source: undefined, at: Date.now() },
    ]);
    const window = await readPredictionWindow(redis, prefix, { start, end: Date.now() + 1_000 }, 2);
    expect(window).toMatchObject({ capped: true });
    expect(window.entries).toHaveLength(2);
  });

  it('stores feedback labels, replaces a second one, and reads a window of them', async () => {
    const now = Date.now();
    const record = (id: string, label: FeedbackRecord['label']): FeedbackRecord => ({
      id,
      label,
      predicted: 'positive',
      modelVersion: 'fp32-abc',
      predictedAt: now - 10,
      at: now,
    });
    expect(await feedback.save([record('f1', 'negative'), record('f2', 'neutral')], 3_600)).toEqual([
      false,
      false,
    ]);
    expect(await feedback.save([record('f1', 'positive')], 3_600)).toEqual([true]);
    await redis.zadd(redisKeys.feedbackByTime(prefix), now, 'gone');
    const window = await feedback.readWindow({ start: now - 1, end: now + 1 }, 100);
    expect(window.records.map((r) => [r.id, r.label]).sort()).toEqual([
      ['f1', 'positive'],
      ['f2', 'neutral'],
    ]);
    expect(window.unreadable).toBe(1);
  });

  it('keeps at most FEEDBACK_MAX_RECORDS labels, dropping the oldest records with their index entries', async () => {
    const own = `${prefix}-capped-feedback`;
    const store = new FeedbackStore(redis, own);
    const now = Date.now();
    const labels = Array.from({ length: 30 }, (_, i) => ({
      id: `c${i}`,
      label: 'neutral' as const,
      predicted: 'positive' as const,
      modelVersion: 'v',
      predictedAt: now - 100,
      at: now - 30 + i,
    }));
    await store.save(labels.slice(0, 20), 3_600, 25);
    await store.save(labels.slice(20), 3_600, 25);
    expect(await redis.zcard(redisKeys.feedbackByTime(own))).toBe(25);
    const kept = await redis.keys(`${own}:feedback:*`);
    expect(kept.sort()).toEqual(
      labels
        .slice(5)
        .map((label) => `${own}:feedback:${label.id}`)
        .sort(),
    );
    const window = await store.readWindow({ start: now - 1_000, end: now + 1 }, 100);
    expect(window).toMatchObject({ unreadable: 0 });
    expect(window.records).toHaveLength(25);
    await redis.del(...kept, redisKeys.feedbackByTime(own));
  });
});
