import { RedisServer } from '@reputation-monitor/app-harness';
import { AppProcess, freePort, startGateway, startWorker, stopAll, waitFor } from './support/apps';
import IORedis from 'ioredis';
import { postJson, request } from './support/http';

// A Redis of this suite's own, so it can be stopped and started without touching the shared one.
let redis: RedisServer;
const stopRedis = () => redis.kill();
const startRedis = () => redis.start();

// A keyed client, so every request also goes through the per-key rate limit, whose counters live in Redis too.
const auth = { 'x-api-key': 'outage-key-0123456789' };
let gateway: AppProcess;
let worker: AppProcess;

beforeAll(async () => {
  redis = new RedisServer({ port: await freePort() });
  await startRedis();
  const env = { REDIS_URL: redis.url, QUEUE_PREFIX: 'outage' };
  worker = await startWorker(env);
  gateway = await startGateway({ ...env, SYNC_TIMEOUT_MS: '20000', API_KEYS: 'ops:outage-key-0123456789' });
});

afterAll(async () => {
  await stopAll();
  await stopRedis();
});

describe('a Redis outage', () => {
  it('turns requests into 503 problems while Redis is down, and both apps recover when it is back', async () => {
    expect((await postJson(`${gateway.url}/v1/sentiment`, { text: 'before the outage' }, auth)).status).toBe(
      200,
    );

    await stopRedis();
    const during = await postJson(`${gateway.url}/v1/sentiment`, { text: 'during the outage' }, auth);
    expect(during.status).toBe(503);
    expect(during.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(during.body.code).toBe('service_unavailable');
    expect(during.headers.get('retry-after')).toBe('5');
    // Bad input is still a 4xx: validation does not need Redis (and the rate limit fails open without it).
    expect((await postJson(`${gateway.url}/v1/sentiment`, { text: '' }, auth)).status).toBe(422);
    // The scrape still answers, and says Redis is down instead of a stale queue depth.
    const metrics = await request(`${gateway.url}/metrics`, {});
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^gateway_redis_up\S* 0$/m);
    expect(metrics.body).not.toMatch(/^sentiment_queue_jobs\{/m);

    await startRedis();
    const after = await waitFor(
      async () => {
        const response = await postJson(`${gateway.url}/v1/sentiment`, { text: 'after the outage' }, auth);
        return response.status === 200 ? response : undefined;
      },
      30_000,
      'the stack to serve again',
    );
    expect(after.body.label).toEqual(expect.any(String));
    expect((await request(`${gateway.url}/metrics`, {})).body).toMatch(/^gateway_redis_up\S* 1$/m);
    // Neither process died on the way.
    expect(gateway.child.exitCode).toBeNull();
    expect(worker.child.exitCode).toBeNull();
  });
});

describe('a Redis at maxmemory', () => {
  it('answers 503 store_full with Retry-After, stores nothing, and serves again once memory is freed', async () => {
    const admin = new IORedis(redis.url, { maxRetriesPerRequest: 1 });
    try {
      // maxmemory 1 byte with noeviction: every write is refused with "OOM command not allowed".
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      await admin.config('SET', 'maxmemory', '1');
      const refused = await postJson(`${gateway.url}/v1/sentiment`, { text: 'no room', id: 'oom-1' }, auth);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(refused.body).toMatchObject({ code: 'store_full' });
      expect(refused.headers.get('retry-after')).toBe('30');
      expect(await admin.exists('outage:sentiment:ops~t-oom-1')).toBe(0);

      await admin.config('SET', 'maxmemory', '0');
      const served = await postJson(`${gateway.url}/v1/sentiment`, { text: 'room again', id: 'oom-1' }, auth);
      expect(served.status).toBe(200);
      expect(gateway.child.exitCode).toBeNull();
    } finally {
      await admin.config('SET', 'maxmemory', '0').catch(() => undefined);
      admin.disconnect();
    }
  });
});
