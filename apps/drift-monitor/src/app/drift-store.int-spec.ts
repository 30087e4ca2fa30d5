import { randomBytes } from 'node:crypto';
import IORedis from 'ioredis';
import { encodeWorkerStatus, redisKeys, type WorkerModelStatus } from '@reputation-monitor/contracts';
import { loadDriftConfig } from './drift-config';
import { DriftStore } from './drift-store';

// Real Redis; a key prefix per run keeps runs apart.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `test-drift-store-${randomBytes(4).toString('hex')}`;
const redis = new IORedis(REDIS_URL);

afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

it('maps registry ids to the model versions workers serve them as, leaving MODEL_DIR out whatever its id', async () => {
  const store = new DriftStore(redis, loadDriftConfig({ REDIS_URL, QUEUE_PREFIX: prefix }));
  const status = (workerId: string, serving: WorkerModelStatus['serving']): string =>
    encodeWorkerStatus({ workerId, revision: 1, state: 'serving', serving, at: new Date().toISOString() });
  await redis.hset(
    redisKeys.modelWorkerStatus(prefix),
    'on-registry',
    status('on-registry', [
      {
        id: 'static',
        location: '/srv/registry/static',
        modelVersion: 'fp32-registry0000',
        role: 'production',
      },
      { id: 'v2', location: '/srv/registry/v2', modelVersion: 'fp32-v2v2v2v2v2v2', role: 'candidate' },
    ]),
    // Read after the other (a small hash keeps insertion order), so it would win if it counted.
    'on-model-dir',
    status('on-model-dir', [{ id: 'static', modelVersion: 'fp32-modeldir0000', role: 'production' }]),
  );
  expect((await store.readAssignment()).servedAs).toEqual({
    static: 'fp32-registry0000',
    v2: 'fp32-v2v2v2v2v2v2',
  });
});
