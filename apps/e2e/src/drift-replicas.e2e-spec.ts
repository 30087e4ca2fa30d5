import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { writeGoldenSet } from '@reputation-monitor/app-harness';
import { AppProcess, adminAuth, startDriftMonitor, startWorker, stopAll } from './support/apps';
import { postJson } from './support/http';
import { SHARED_DATA } from './support/paths';
import { connectRedis, deletePrefix, uniquePrefix } from './support/redis';

// Two drift monitor replicas on one Redis: runs never overlap, whichever replica they were asked of.
const prefix = uniquePrefix('drift-replicas');
const LEASE_KEY = `${prefix}:drift:run-lease`;
let redis: Redis;
let tmp: string;
let replicas: AppProcess[];

beforeAll(async () => {
  redis = connectRedis();
  tmp = mkdtempSync(join(tmpdir(), 'drift-replicas-'));
  // A golden set big enough that a run takes a while: it goes through the real queue and worker.
  const golden = writeGoldenSet(join(tmp, 'golden.jsonl'), {
    sharedData: SHARED_DATA,
    split: 'val',
    count: 400,
  });
  await startWorker({ QUEUE_PREFIX: prefix });
  const env = {
    QUEUE_PREFIX: prefix,
    SCHEDULE: 'off',
    GOLDEN_SET_PATH: golden,
    GOLDEN_CHUNK_SIZE: '16',
  };
  replicas = await Promise.all([startDriftMonitor(env), startDriftMonitor(env)]);
}, 120_000);

afterAll(async () => {
  await stopAll();
  if (redis) {
    await deletePrefix(redis, prefix);
    redis.disconnect();
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('drift monitor replicas', () => {
  it('serialise concurrent manual runs across replicas (a lease in Redis): the runs do not overlap', async () => {
    const answers = await Promise.all(
      replicas.map((replica) => postJson(`${replica.url}/v1/runs`, {}, adminAuth)),
    );
    expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
    const spans = answers
      .map(({ body }) => ({
        start: Date.parse(body.createdAt),
        end: Date.parse(body.createdAt) + body.durationMs,
      }))
      .sort((a, b) => a.start - b.start);
    // Each run really worked (the golden set through the worker), and the second began after the first ended.
    for (const { body } of answers)
      expect(body.quality.golden).toMatchObject({ status: 'measured', count: 400 });
    expect(spans[0].end - spans[0].start).toBeGreaterThan(0);
    expect(spans[1].start).toBeGreaterThanOrEqual(spans[0].end);
    expect(await redis.exists(LEASE_KEY)).toBe(0);
  }, 120_000);

  it('answers 409 with Retry-After when another run keeps the lease longer than a manual run waits', async () => {
    await redis.set(LEASE_KEY, 'a-stuck-replica', 'PX', 60_000);
    try {
      const answer = await postJson(`${replicas[0].url}/v1/runs`, {}, adminAuth);
      expect(answer.status).toBe(409);
      expect(answer.headers.get('content-type')).toContain('application/problem+json');
      expect(answer.headers.get('retry-after')).toBe('10');
      expect(answer.body).toMatchObject({ status: 409, code: 'run_in_progress' });
      expect(answer.body.detail).toContain('another replica is evaluating');
      // Nothing was evaluated or stored, and the other owner's lease is untouched.
      expect(await redis.llen(`${prefix}:drift:reports`)).toBe(2);
      expect(await redis.get(LEASE_KEY)).toBe('a-stuck-replica');
    } finally {
      await redis.del(LEASE_KEY);
    }
    const after = await postJson(`${replicas[1].url}/v1/runs`, {}, adminAuth);
    expect(after.status).toBe(200);
  }, 60_000);
});
