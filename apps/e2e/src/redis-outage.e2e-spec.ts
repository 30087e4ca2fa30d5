import { RedisServer } from '@reputation-monitor/app-harness';
import { AppProcess, freePort, startGateway, startWorker, stopAll, waitFor } from './support/apps';
import { postJson } from './support/http';

// A Redis of this suite's own, so it can be stopped and started without touching the shared one.
let redis: RedisServer;
const stopRedis = () => redis.kill();
const startRedis = () => redis.start();

let gateway: AppProcess;
let worker: AppProcess;

beforeAll(async () => {
  redis = new RedisServer({ port: await freePort() });
  await startRedis();
  const env = { REDIS_URL: redis.url, QUEUE_PREFIX: 'outage' };
  worker = await startWorker(env);
  gateway = await startGateway({ ...env, SYNC_TIMEOUT_MS: '20000' });
});

afterAll(async () => {
  await stopAll();
  await stopRedis();
});

describe('a Redis outage', () => {
  it('turns requests into 503 problems while Redis is down, and both apps recover when it is back', async () => {
    expect((await postJson(`${gateway.url}/v1/sentiment`, { text: 'before the outage' })).status).toBe(200);

    await stopRedis();
    const during = await postJson(`${gateway.url}/v1/sentiment`, { text: 'during the outage' });
    expect(during.status).toBe(503);
    expect(during.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(during.body.code).toBe('service_unavailable');
    expect(during.headers.get('retry-after')).toBe('5');
    // Bad input is still a 4xx: validation does not need Redis.
    expect((await postJson(`${gateway.url}/v1/sentiment`, { text: '' })).status).toBe(422);

    await startRedis();
    const after = await waitFor(
      async () => {
        const response = await postJson(`${gateway.url}/v1/sentiment`, { text: 'after the outage' });
        return response.status === 200 ? response : undefined;
      },
      30_000,
      'the stack to serve again',
    );
    expect(after.body.label).toEqual(expect.any(String));
    // Neither process died on the way.
    expect(gateway.child.exitCode).toBeNull();
    expect(worker.child.exitCode).toBeNull();
  });
});
