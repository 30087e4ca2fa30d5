import type { Server } from 'node:http';
import IORedis from 'ioredis';
import { Gauge } from 'prom-client';
import { HealthServer } from './health-server';
import { loadWorkerConfig } from './worker-config';
import { WorkerMetrics } from './worker-metrics';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('the worker health port', () => {
  const config = loadWorkerConfig({ HEALTH_PORT: '0', HEALTH_HOST: '127.0.0.1', REDIS_URL });
  const redis = new IORedis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  let metrics: WorkerMetrics;
  /** What the readiness check reads of the model manager and the consumer. */
  let models: { ready: boolean; failure?: Error };
  let consumer: { running: boolean };
  let server: HealthServer;
  const get = async (path: string) => {
    const response = await fetch(`http://127.0.0.1:${server.address()!.port}${path}`);
    return {
      status: response.status,
      type: response.headers.get('content-type'),
      body: await response.text(),
    };
  };

  beforeEach(async () => {
    metrics = new WorkerMetrics(config);
    models = { ready: true };
    consumer = { running: true };
    server = new HealthServer(models as never, consumer as never, metrics, redis, config);
    await server.onApplicationBootstrap();
  });
  afterEach(() => server.onApplicationShutdown());
  afterAll(() => redis.quit());

  it('answers liveness, readiness with its checks, metrics and 404 for anything else', async () => {
    expect(await get('/health/live')).toMatchObject({ status: 200 });
    const ready = await get('/health/ready');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toEqual({
      status: 'ok',
      checks: { redis: 'up', model: 'loaded', queue: 'consuming' },
    });
    const scraped = await get('/metrics');
    expect(scraped.status).toBe(200);
    expect(scraped.type).toContain('text/plain');
    expect(scraped.body).toContain('process_cpu_seconds_total');
    expect((await get('/nothing')).status).toBe(404);
  });

  it('is not ready while the model loads, or after it failed to, and says why', async () => {
    models.ready = false;
    expect(JSON.parse((await get('/health/ready')).body)).toMatchObject({
      status: 'error',
      checks: { model: 'loading' },
    });
    models.failure = new Error('no model.onnx in /models/x');
    consumer.running = false;
    const answer = await get('/health/ready');
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body).checks).toMatchObject({
      model: 'no model.onnx in /models/x',
      queue: 'stopped',
    });
  });

  it('fails its start on a port in use, and logs a later server error instead of ending the process', async () => {
    const taken = loadWorkerConfig({
      HEALTH_PORT: String(server.address()!.port),
      HEALTH_HOST: '127.0.0.1',
      REDIS_URL,
    });
    const second = new HealthServer(models as never, consumer as never, metrics, redis, taken);
    await expect(second.onApplicationBootstrap()).rejects.toThrow(/EADDRINUSE/);
    const running = (server as unknown as { server: Server }).server;
    expect(() => running.emit('error', new Error('accept EMFILE'))).not.toThrow();
    expect((await get('/health/live')).status).toBe(200);
  });

  it('answers 500 when collecting a metric throws, and goes on serving', async () => {
    const rejections: unknown[] = [];
    const record = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', record);
    try {
      new Gauge({
        name: 'worker_broken_collector',
        help: 'a collector that throws',
        registers: [metrics.registry],
        collect() {
          throw new Error('collector broke');
        },
      });
      const scraped = await get('/metrics');
      expect(scraped.status).toBe(500);
      expect(JSON.parse(scraped.body)).toEqual({ status: 500, title: 'Internal Server Error' });
      expect((await get('/health/live')).status).toBe(200);
      await new Promise((resolve) => setImmediate(resolve));
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', record);
    }
  });
});
