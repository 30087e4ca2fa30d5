import { randomBytes } from 'node:crypto';
import IORedis from 'ioredis';
import { RunLease } from './run-lease';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const key = `test-run-lease-${randomBytes(4).toString('hex')}:drift:run-lease`;
let redis: IORedis;

beforeAll(() => {
  redis = new IORedis(REDIS_URL);
});

afterEach(async () => {
  await redis.del(key);
});

afterAll(() => redis.disconnect());

describe('RunLease on a real Redis', () => {
  it('lets one owner in at a time and the next one in once it is released', async () => {
    const lease = new RunLease(redis, key, { ttlMs: 5_000, pollMs: 20 });
    const first = await lease.acquire('a', 0);
    expect(first).toBeDefined();
    expect(await lease.holder()).toBe('a');
    expect(await lease.acquire('b', 100)).toBeUndefined();

    const waiting = lease.acquire('b', 5_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await first?.release();
    const second = await waiting;
    expect(second).toBeDefined();
    expect(await lease.holder()).toBe('b');
    await second?.release();
    expect(await lease.holder()).toBeNull();
  });

  it('keeps a live holder by renewing before the TTL runs out', async () => {
    const lease = new RunLease(redis, key, { ttlMs: 300, pollMs: 20 });
    const held = await lease.acquire('a', 0);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await lease.holder()).toBe('a');
    expect(held?.held()).toBe(true);
    await held?.release();
  });

  it('frees the lease of a holder that died (no renewals) after the TTL', async () => {
    await redis.set(key, 'dead-replica', 'PX', 200);
    const lease = new RunLease(redis, key, { ttlMs: 5_000, pollMs: 20 });
    const taken = await lease.acquire('b', 2_000);
    expect(taken).toBeDefined();
    expect(await lease.holder()).toBe('b');
    await taken?.release();
  });

  it('never releases or renews a lease another owner took after it lapsed', async () => {
    const lease = new RunLease(redis, key, { ttlMs: 300, pollMs: 20 });
    const stale = await lease.acquire('a', 0);
    // Owner a stalls: someone else's lease replaces it.
    await redis.set(key, 'b', 'PX', 5_000);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(stale?.held()).toBe(false);
    await stale?.release();
    expect(await lease.holder()).toBe('b');
    expect(await redis.pttl(key)).toBeGreaterThan(4_000);
  });
});
