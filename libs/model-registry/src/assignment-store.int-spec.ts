import IORedis, { type Redis } from 'ioredis';
import {
  encodeAssignment,
  redisKeys,
  WORKER_HEARTBEAT_TTL_MS,
  type ModelAssignment,
  type WorkerModelStatus,
} from '@reputation-monitor/contracts';
import { AssignmentStore, ModelAdminError } from './index';

// Real Redis; a key prefix per run keeps runs apart.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `test-model-assignment-${process.pid}-${Date.now().toString(36)}`;
const redis = new IORedis(REDIS_URL);
const connections: Redis[] = [redis];
const connect = () => {
  const connection = new IORedis(REDIS_URL);
  connections.push(connection);
  return connection;
};

const ref = (id: string) => ({ id, location: `/srv/models/${id}` });
const at = () => new Date().toISOString();
/** The next record: `reason` counts the writes, so a lost update shows as a gap. */
const counted =
  (actor: string) =>
  (current: ModelAssignment | undefined): Omit<ModelAssignment, 'revision'> => ({
    production: ref('v1'),
    change: {
      action: current ? 'promote' : 'initialize',
      actor,
      reason: String(Number(current?.change.reason ?? 0) + 1),
      at: at(),
    },
  });

function status(workerId: string, revision: number): WorkerModelStatus {
  return {
    workerId,
    revision,
    state: 'serving',
    serving: [{ id: 'v1', modelVersion: 'fp32-0123456789ab', role: 'production' }],
    switchedAt: at(),
    at: at(),
  };
}

/** Resolves when `predicate` holds, checking every 10 ms, or fails after `timeoutMs`. */
async function eventually(predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((done) => setTimeout(done, 10));
  }
}

/** Resolves once a connection listens on the assignment channel. */
async function waitForSubscriber(): Promise<void> {
  const channel = redisKeys.modelAssignmentChanged(prefix);
  const deadline = Date.now() + 5_000;
  for (;;) {
    const [, count] = (await redis.pubsub('NUMSUB', channel)) as [string, number | string];
    if (Number(count) > 0) return;
    if (Date.now() > deadline) throw new Error(`nobody subscribed to ${channel} in time`);
    await new Promise((done) => setTimeout(done, 10));
  }
}

async function clear(): Promise<void> {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
}

let store: AssignmentStore;

beforeEach(() => {
  store = new AssignmentStore(redis, prefix);
});
afterEach(clear);
afterAll(async () => {
  await clear();
  // Watches close their subscriber connections themselves.
  await Promise.all(
    connections.filter((connection) => connection.status !== 'end').map((connection) => connection.quit()),
  );
});

describe('AssignmentStore', () => {
  it('has no record until the first write, which gets revision 1 and a history entry', async () => {
    expect(await store.current()).toBeUndefined();
    expect(await store.history()).toEqual([]);

    const first = await store.write(counted('cli:ops'));

    expect(first).toMatchObject({
      revision: 1,
      production: ref('v1'),
      change: { action: 'initialize', reason: '1' },
    });
    expect(await store.current()).toEqual(first);
    expect(await store.history()).toEqual([first]);
  });

  it('throws on an undecodable record rather than overwrite it', async () => {
    await redis.set(redisKeys.modelAssignment(prefix), '{"revision":0}');

    await expect(store.current()).rejects.toThrow(
      `${redisKeys.modelAssignment(prefix)} holds no valid model assignment: revision must be a positive integer`,
    );
    await expect(store.write(counted('cli:ops'))).rejects.toThrow('holds no valid model assignment');
    expect(await redis.get(redisKeys.modelAssignment(prefix))).toBe('{"revision":0}');
  });

  it('lets two concurrent writers take turns: revisions 1..n, no update lost', async () => {
    const writers = [new AssignmentStore(connect(), prefix), new AssignmentStore(connect(), prefix)];
    const perWriter = 15;

    await Promise.all(
      writers.map(async (writer, index) => {
        for (let i = 0; i < perWriter; i++) await writer.write(counted(`writer-${index}`));
      }),
    );

    const history = await store.history(1_000);
    expect(history.map((record) => record.revision)).toEqual(
      Array.from({ length: 2 * perWriter }, (_, i) => 2 * perWriter - i),
    );
    // Each record was computed from the one before it.
    expect(history.every((record) => record.change.reason === String(record.revision))).toBe(true);
    expect(new Set(history.map((record) => record.change.actor))).toEqual(new Set(['writer-0', 'writer-1']));
    expect((await store.current())?.revision).toBe(2 * perWriter);
  });

  it('retries a lost race with the newer record, then gives up with a conflict', async () => {
    await store.write(counted('cli:ops'));
    let calls = 0;

    // Another writer gets in between every read and write.
    const lost = store.write((current) => {
      calls++;
      void redis.set(
        redisKeys.modelAssignment(prefix),
        JSON.stringify({ ...current, revision: (current?.revision ?? 0) + 1 }),
      );
      return counted('cli:ops')(current);
    });

    await expect(lost).rejects.toThrow(ModelAdminError);
    await expect(lost).rejects.toMatchObject({ kind: 'conflict' });
    expect(calls).toBeGreaterThan(1);
    // A race lost once is won on the next attempt, from the record the other writer wrote.
    let interfered = false;
    const before = (await store.current()) as ModelAssignment;
    const won = await store.write((current) => {
      if (!interfered) {
        interfered = true;
        // Same connection as the store: this lands before the store's compare-and-set.
        void redis.set(
          redisKeys.modelAssignment(prefix),
          JSON.stringify({
            ...current,
            revision: before.revision + 1,
            change: { ...current?.change, reason: '99' },
          }),
        );
      }
      return counted('cli:ops')(current);
    });
    expect(won).toMatchObject({ revision: before.revision + 2, change: { reason: '100' } });
    expect(await store.current()).toEqual(won);
  });

  it('writes nothing when next() refuses, and refuses a record the codec would not read back', async () => {
    await store.write(counted('cli:ops'));
    const refusal = new ModelAdminError('invalid', 'no');

    await expect(
      store.write(() => {
        throw refusal;
      }),
    ).rejects.toBe(refusal);
    await expect(
      store.write((current) => ({ ...counted('cli:ops')(current), production: { id: '', location: '' } })),
    ).rejects.toMatchObject({
      kind: 'invalid',
      message: expect.stringContaining('production must have an id'),
    });
    expect((await store.current())?.revision).toBe(1);
  });

  it('keeps the history newest first, limited on request, and walks all of it page by page', async () => {
    for (let i = 0; i < 120; i++) await store.write(counted('cli:ops'));

    expect((await store.history(3)).map((record) => record.revision)).toEqual([120, 119, 118]);
    expect((await store.history()).length).toBe(100);
    const walked: number[] = [];
    for await (const record of store.walkHistory()) walked.push(record.revision);
    expect(walked).toEqual(Array.from({ length: 120 }, (_, i) => 120 - i));
    expect(await store.history(0)).toEqual([]);
    for (const limit of [-1, 1.5, Number.NaN]) {
      await expect(store.history(limit)).rejects.toMatchObject({ kind: 'invalid' });
    }
  });

  it('publishes each revision on the channel after writing it', async () => {
    const listener = connect();
    const messages: string[] = [];
    listener.on('message', (_channel: string, message: string) => messages.push(message));
    await listener.subscribe(redisKeys.modelAssignmentChanged(prefix));

    await store.write(counted('cli:ops'));
    await store.write(counted('cli:ops'));

    await eventually(() => messages.length === 2);
    expect(messages).toEqual(['1', '2']);
    await listener.unsubscribe();
  });

  // This Redis has no replica: `auto` does not wait, and asking for one times out. With a replica: e2e's
  // producer-replica-wait spec.
  it('confirms a write on the replicas asked for (WAIT), and says when they did not acknowledge it', async () => {
    const auto = new AssignmentStore(redis, prefix);
    await expect(auto.write(counted('cli:ops'))).resolves.toMatchObject({ revision: 1 });

    const waiting = new AssignmentStore(redis, prefix, { waitReplicas: 1, waitTimeoutMs: 50 });
    const refused = await waiting.write(counted('cli:ops')).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ModelAdminError);
    expect(refused).toMatchObject({
      kind: 'not_replicated',
      message: expect.stringMatching(
        /revision 2 \(promote\) is written.*0 of the 1 replica\(s\).*within 50 ms/,
      ),
    });
    // On the primary all the same: the workers follow it, and the next change builds on it.
    expect(await store.current()).toMatchObject({ revision: 2 });
    await expect(store.write(counted('cli:ops'))).resolves.toMatchObject({ revision: 3 });
  });

  it('says a write is done, not refused, when its connection dies while the WAIT is out', async () => {
    const writer = connect();
    const waiting = new AssignmentStore(writer, prefix, { waitReplicas: 1, waitTimeoutMs: 1_500 });
    const id = String(await writer.client('ID'));
    const written = waiting.write(counted('cli:ops')).catch((error: unknown) => error);
    // The WAIT blocks (this Redis has no replica) until its connection is killed.
    await new Promise((done) => setTimeout(done, 200));
    await redis.client('KILL', 'ID', id);
    const refused = await written;
    expect(refused).toBeInstanceOf(ModelAdminError);
    expect(refused).toMatchObject({
      kind: 'not_replicated',
      message: expect.stringMatching(/revision 1 \(initialize\) is written.*its WAIT failed/),
    });
    expect(await store.current()).toMatchObject({ revision: 1 });
  });
});

describe('AssignmentStore.watch', () => {
  it('reads once at the start, then follows changes through pub/sub', async () => {
    await store.write(counted('cli:ops'));
    const seen: number[] = [];
    const errors: Error[] = [];

    // A poll that never comes during the test: only pub/sub can deliver the changes.
    const watch = store.watch((assignment) => seen.push(assignment.revision), {
      pollMs: 3_600_000,
      subscriber: connect,
      onError: (error) => errors.push(error),
    });
    try {
      await eventually(() => seen.length === 1);
      // Wait until the subscription is in place before writing.
      await waitForSubscriber();
      await store.write(counted('cli:ops'));
      await store.write(counted('cli:ops'));
      await eventually(() => seen.at(-1) === 3);
    } finally {
      await watch.stop();
    }
    expect(seen[0]).toBe(1);
    // Increasing, each revision at most once.
    expect(seen).toEqual([...new Set(seen)].sort((a, b) => a - b));
    expect(errors).toEqual([]);

    // Stopped: later changes are not delivered, and the subscriber connection is closed.
    const count = seen.length;
    await store.write(counted('cli:ops'));
    await new Promise((done) => setTimeout(done, 100));
    expect(seen.length).toBe(count);
  });

  it('follows changes by polling alone when pub/sub delivers nothing', async () => {
    // A subscriber that never gets a message, as while its connection is down.
    const deaf = {
      on: () => deaf,
      subscribe: async () => 1,
      quit: async () => 'OK',
      disconnect: () => undefined,
    } as unknown as Redis;
    const seen: ModelAssignment[] = [];

    const watch = store.watch((assignment) => seen.push(assignment), { pollMs: 50, subscriber: () => deaf });
    try {
      await new Promise((done) => setTimeout(done, 120));
      expect(seen).toEqual([]); // nothing written yet
      const written = await store.write(counted('cli:ops'));
      await eventually(() => seen.length === 1, 2_000);
      expect(seen[0]).toEqual(written);
      await store.write(counted('cli:ops'));
      await eventually(() => seen.length === 2, 2_000);
    } finally {
      await watch.stop();
    }
    expect(seen.map((assignment) => assignment.revision)).toEqual([1, 2]);
  });

  it('delivers a record that reuses a revision number after Redis lost the newest writes', async () => {
    const seen: ModelAssignment[] = [];
    const watch = store.watch((assignment) => seen.push(assignment), {
      pollMs: 30,
      subscriber: connect,
    });
    try {
      const first = await store.write(counted('cli:ops'));
      await eventually(() => seen.length === 1);
      await store.write(counted('cli:ops'));
      await eventually(() => seen.length === 2);
      // A failover to a replica that had only revision 1: the record is back to it ...
      await redis.set(redisKeys.modelAssignment(prefix), encodeAssignment(first));
      await eventually(() => seen.length === 3);
      // ... and the next change is revision 2 again, another record than the lost one.
      await new Promise((done) => setTimeout(done, 5)); // another change time
      const again = await store.write(counted('cli:ops'));
      await eventually(() => seen.length === 4);
      expect(seen.map((assignment) => assignment.revision)).toEqual([1, 2, 1, 2]);
      expect(seen[3]).toEqual(again);
    } finally {
      await watch.stop();
    }
  });

  it('reports a read that fails (an undecodable record) and carries on', async () => {
    await redis.set(redisKeys.modelAssignment(prefix), 'not json');
    const errors: Error[] = [];
    const seen: number[] = [];

    const watch = store.watch((assignment) => seen.push(assignment.revision), {
      pollMs: 30,
      subscriber: connect,
      onError: (error) => errors.push(error),
    });
    try {
      await eventually(() => errors.length > 0);
      await redis.del(redisKeys.modelAssignment(prefix));
      await store.write(counted('cli:ops'));
      await eventually(() => seen.length === 1);
    } finally {
      await watch.stop();
    }
    expect(errors[0].message).toContain('holds no valid model assignment: not JSON');
  });
});

describe('worker statuses', () => {
  it('lists the statuses of live workers only, pruning those without a fresh heartbeat', async () => {
    const heartbeats = redisKeys.workerHeartbeats(prefix);
    const now = Date.now();
    await redis.zadd(heartbeats, now, 'worker-a', now - WORKER_HEARTBEAT_TTL_MS - 1_000, 'worker-b');
    for (const id of ['worker-a', 'worker-b', 'worker-c']) await store.reportStatus(status(id, 1));

    expect((await store.statuses()).map((entry) => entry.workerId)).toEqual(['worker-a']);
    expect(await redis.hkeys(redisKeys.modelWorkerStatus(prefix))).toEqual(['worker-a']);

    // A status reported again replaces the old one; a removed one is gone.
    await store.reportStatus({ ...status('worker-a', 2), state: 'loading' });
    expect(await store.statuses()).toEqual([expect.objectContaining({ revision: 2, state: 'loading' })]);
    await store.removeStatus('worker-a');
    expect(await store.statuses()).toEqual([]);
  });

  it('keeps the entry of a live worker whose status is unreadable, and leaves it out', async () => {
    await redis.zadd(redisKeys.workerHeartbeats(prefix), Date.now(), 'worker-a');
    await redis.hset(redisKeys.modelWorkerStatus(prefix), 'worker-a', '{broken');

    expect(await store.statuses()).toEqual([]);
    expect(await redis.hget(redisKeys.modelWorkerStatus(prefix), 'worker-a')).toBe('{broken');
  });
});
