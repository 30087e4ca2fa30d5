import IORedis from 'ioredis';
import { FeedbackRecord, parseStreamEntry, redisKeys } from '@reputation-monitor/contracts';
import { FeedbackStore } from './feedback-store';
import { PredictionLog, readPredictionWindow } from './prediction-log';

// Real Redis; a key prefix per run keeps runs apart.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `test-predictions-${process.pid}-${Date.now().toString(36)}`;
const redis = new IORedis(REDIS_URL);
const log = new PredictionLog(redis, { prefix, streamMaxLen: 1_000, indexHours: 2 });
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
    const { entries, capped } = await readPredictionWindow(
      redis,
      prefix,
      { start: at - 1_000, end: at + 1_000 },
      100,
    );
    expect(capped).toBe(false);
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
    expect(await redis.ttl(redisKeys.predictionIndex(prefix, Math.floor(at / 3_600_000)))).toBeGreaterThan(
      2 * 3_600,
    );
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
});
