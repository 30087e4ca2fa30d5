import { randomUUID } from 'node:crypto';
import IORedis from 'ioredis';
import { REDIS_BYTES, deletePrefix } from '@reputation-monitor/app-harness';
import { encodeIndexedPrediction, redisKeys } from '@reputation-monitor/contracts';
import { CappedHashRing } from '@reputation-monitor/redis-connection';
import { ExampleBuffer } from './example-buffer';
import { exampleId } from './example-id';
import { FeedbackStore } from './feedback-store';

// What one record of each family this library writes costs in Redis (MEMORY USAGE of its keys, divided by the
// records), against the per-record figures docs/capacity.md sizes Redis with (REDIS_BYTES). Realistic records:
// tenant-scoped UUID ids, a real model version, tweet-sized texts.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `test-record-sizes-${process.pid}-${Date.now().toString(36)}`;
const redis = new IORedis(REDIS_URL);
const N = 5_000;
const VERSION = 'fp32-e64ee31cd025';
const TWEET =
  'Loving the new update, great job @user! The battery finally lasts a whole day, well done folks';

afterAll(async () => {
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

/** MEMORY USAGE (exact) summed over every key matching `pattern`. */
async function bytesUnder(pattern: string): Promise<number> {
  let total = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
    for (const key of keys) total += Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
    cursor = next;
  } while (cursor !== '0');
  return total;
}

/** A key with a TTL also has an entry in the expires dictionary, which MEMORY USAGE leaves out. */
const EXPIRES_ENTRY = 24;

describe('bytes per record', () => {
  it('of the prediction index', async () => {
    const key = redisKeys.predictionIndex(prefix);
    const ring = new CappedHashRing(redis, { key, limits: { maxEntries: 8 * N, retainMs: 86_400_000 } });
    const at = Date.now();
    await ring.add(
      Array.from({ length: N }, () => {
        const jobId = `acme~${randomUUID()}`;
        return [
          `acme/${jobId}`,
          encodeIndexedPrediction({ label: 'positive', at, modelVersion: VERSION, jobId }),
        ] as const;
      }),
    );
    const perEntry = (await bytesUnder(`${key}:*`)) / N;
    console.log(`prediction index: ${perEntry.toFixed(0)} B per entry`);
    expect(perEntry).toBeLessThanOrEqual(REDIS_BYTES.indexEntry);
  });

  it('of id claims (written by the producer client: a client id and 16 characters of its text digest)', async () => {
    const key = redisKeys.idClaims(prefix);
    const ring = new CappedHashRing(redis, { key, limits: { maxEntries: 8 * N, retainMs: 3_600_000 } });
    await ring.claim(
      Array.from(
        { length: N },
        () => [`acme/${randomUUID()}`, randomUUID().replace(/-/g, '').slice(0, 16)] as const,
      ),
    );
    const perEntry = (await bytesUnder(`${key}:*`)) / N;
    console.log(`id claims: ${perEntry.toFixed(0)} B per entry`);
    expect(perEntry).toBeLessThanOrEqual(REDIS_BYTES.idClaim);
  });

  it('of feedback labels (record and time index)', async () => {
    const store = new FeedbackStore(redis, prefix);
    const now = Date.now();
    for (let i = 0; i < N; i += 500) {
      await store.save(
        Array.from({ length: 500 }, () => ({
          id: `acme/acme~${randomUUID()}`,
          label: 'negative' as const,
          predicted: 'positive' as const,
          modelVersion: VERSION,
          predictedAt: now - 60_000,
          at: now,
        })),
        86_400,
        10 * N,
      );
    }
    const perRecord =
      ((await bytesUnder(`${prefix}:feedback:*`)) + (await bytesUnder(redisKeys.feedbackByTime(prefix)))) /
        N +
      EXPIRES_ENTRY;
    console.log(`feedback: ${perRecord.toFixed(0)} B per label`);
    expect(perRecord).toBeLessThanOrEqual(REDIS_BYTES.feedbackRecord);
  });

  it('of labelled examples waiting for export, besides their text', async () => {
    const buffer = new ExampleBuffer(redis, { prefix, ttlSeconds: 86_400, maxPending: 10 * N });
    const now = Date.now();
    let textBytes = 0;
    for (let i = 0; i < N; i += 500) {
      const texts = Array.from({ length: 500 }, (_, j) => `${TWEET} ${i + j}`);
      textBytes += texts.reduce((sum, text) => sum + Buffer.byteLength(text), 0);
      await buffer.add(
        texts.map((text) => ({
          id: exampleId(text),
          text,
          label: 'positive' as const,
          source: 'twitter',
          origin: 'feedback' as const,
          at: now,
          predictionId: `acme/acme~${randomUUID()}`,
          predicted: 'neutral' as const,
          modelVersion: VERSION,
          tenant: 'acme',
        })),
      );
    }
    // With a tenant: its field is longer, and it is in the tenant's time index too.
    const bytes =
      (await bytesUnder(redisKeys.examplesPending(prefix))) +
      (await bytesUnder(redisKeys.examplesPendingByTime(prefix))) +
      (await bytesUnder(redisKeys.examplesPendingOfTenant(prefix, 'acme')));
    const perExample = (bytes - textBytes) / N;
    console.log(
      `examples: ${perExample.toFixed(0)} B per example besides its ${(textBytes / N).toFixed(0)} B text`,
    );
    expect(perExample).toBeLessThanOrEqual(REDIS_BYTES.example);
  });
});
