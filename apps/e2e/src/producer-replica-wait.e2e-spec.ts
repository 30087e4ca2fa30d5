import IORedis, { Redis } from 'ioredis';
import { RedisServer } from '@reputation-monitor/app-harness';
import { decodeAssignment, redisKeys } from '@reputation-monitor/contracts';
import { AssignmentStore, ModelAdminError } from '@reputation-monitor/model-registry';
import {
  NotReplicatedError,
  ReplicaWaitResult,
  SentimentProducer,
} from '@reputation-monitor/producer-client';
import { freePort, waitFor } from './support/apps';

// The producer client against a primary and a replica of this suite's own (redis-server on loopback; no app is
// started): every enqueue is confirmed on the replica with WAIT before it resolves. (Here rather than in the
// client's integration tests: a buildable library's specs may not use the app harness.)
let primary: RedisServer;
let replica: RedisServer;
let replicaClient: Redis;
const producers: SentimentProducer[] = [];

async function producer(settings: { waitReplicas?: 'auto' | number; waitTimeoutMs?: number }) {
  const made = new SentimentProducer({
    redis: { url: primary.url, ...settings },
    prefix: `replica-wait-${producers.length}`,
  });
  producers.push(made);
  await made.ready();
  return made;
}

beforeAll(async () => {
  primary = new RedisServer({ port: await freePort(), args: ['--repl-diskless-sync-delay', '0'] });
  await primary.start();
  replica = new RedisServer({ port: await freePort(), replicaOf: { host: '127.0.0.1', port: primary.port } });
  await replica.start();
  replicaClient = new IORedis(replica.url, { maxRetriesPerRequest: 1 });
  const admin = new IORedis(primary.url, { maxRetriesPerRequest: 1 });
  try {
    await waitFor(
      async () => (/slave0:.*state=online/.test(await admin.info('replication')) ? true : undefined),
      15_000,
      'the replica to sync',
    );
  } finally {
    admin.disconnect();
  }
}, 30_000);

afterAll(async () => {
  await Promise.all(producers.map((made) => made.close()));
  replicaClient?.disconnect();
  await replica?.kill();
  await primary?.kill();
});

it('resolves every enqueue only once the replica holds the job, with far fewer WAITs than enqueues', async () => {
  const made = await producer({});
  const results: ReplicaWaitResult[] = [];
  made.onReplicaWait((result) => results.push(result));
  const jobs = await Promise.all(
    Array.from({ length: 300 }, async (_, index) => {
      const { jobId } = await made.enqueue([{ text: `text ${index}` }]);
      // Read from the replica the moment the enqueue resolves: WAIT said it is there.
      const onReplica = await replicaClient.exists(made.queue.toKey(jobId));
      return { jobId, onReplica };
    }),
  );
  expect(jobs.filter((job) => job.onReplica !== 1)).toEqual([]);
  expect(results).toHaveLength(300);
  expect(results.every((result) => result.outcome === 'acked' && result.acked >= 1)).toBe(true);
  const { confirms, waits } = made.replicaWaitStats;
  expect(confirms).toBe(300);
  expect(waits).toBeLessThan(confirms);
  console.log(`300 concurrent enqueues: ${waits} WAITs`);
});

it('refuses to confirm a job fewer replicas acknowledged than asked, with the job id', async () => {
  const made = await producer({ waitReplicas: 2, waitTimeoutMs: 100 });
  const outcomes: string[] = [];
  made.onReplicaWait((result) => outcomes.push(result.outcome));
  const error = await made.enqueue([{ text: 'only one replica here', id: 'one-replica' }]).catch((e) => e);
  expect(error).toBeInstanceOf(NotReplicatedError);
  expect(error).toMatchObject({ code: 'service_unavailable', wanted: 2, acked: 1, timeoutMs: 100 });
  expect(outcomes).toEqual(['timeout']);
  // The job is stored (it may run); an unchanged retry finds it and asks the replicas again.
  const retry = await made.enqueue([{ text: 'only one replica here', id: 'one-replica' }]).catch((e) => e);
  expect(retry).toBeInstanceOf(NotReplicatedError);
  expect(await made.queue.getJob(error.jobId)).toBeDefined();
});

it('does not wait when told not to, or in auto mode while the primary has no replica', async () => {
  const off = await producer({ waitReplicas: 0 });
  const outcomes: string[] = [];
  off.onReplicaWait((result) => outcomes.push(result.outcome));
  await off.enqueue([{ text: 'no wait' }]);
  expect(outcomes).toEqual(['skipped']);

  const lone = new RedisServer({ port: await freePort() });
  await lone.start();
  try {
    const alone = new SentimentProducer({ redisUrl: lone.url, prefix: 'alone' });
    await alone.ready();
    const seen: ReplicaWaitResult[] = [];
    alone.onReplicaWait((result) => seen.push(result));
    await alone.enqueue([{ text: 'no replica' }]);
    expect(seen).toMatchObject([{ outcome: 'skipped', wanted: 0 }]);
    await alone.close();
  } finally {
    await lone.kill();
  }
});

it('confirms a change of the model assignment on the replica before it resolves, as it does a job', async () => {
  const writer = new IORedis(primary.url, { maxRetriesPerRequest: 1 });
  try {
    const prefix = 'replica-wait-assignment';
    const change = (reason: string) => () => ({
      production: { id: 'v1', location: '/srv/models/v1' },
      change: { action: 'initialize' as const, actor: 'cli:ops', reason, at: new Date().toISOString() },
    });
    const written = await new AssignmentStore(writer, prefix).write(change('first'));
    const onReplica = decodeAssignment((await replicaClient.get(redisKeys.modelAssignment(prefix))) ?? '');
    expect(onReplica).toMatchObject({ ok: true, assignment: { revision: written.revision } });

    const twoReplicas = new AssignmentStore(writer, prefix, { waitReplicas: 2, waitTimeoutMs: 100 });
    const refused = await twoReplicas.write(change('second')).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ModelAdminError);
    expect(refused).toMatchObject({
      kind: 'not_replicated',
      message: expect.stringContaining('1 of the 2 replica(s) asked for acknowledged it within 100 ms'),
    });
  } finally {
    writer.disconnect();
  }
});
