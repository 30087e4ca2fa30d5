import IORedis from 'ioredis';
import { Worker } from 'bullmq';
import { QueueName } from '@reputation-monitor/contracts';
import { SentimentProducer } from './sentiment-producer';
import {
  IdempotencyConflictError,
  InvalidRequestError,
  JobFailedError,
  NotReplicatedError,
  QueueFullError,
  ResultTimeoutError,
} from './errors';

// Real Redis; a key prefix per run keeps runs apart. No inference worker runs here: jobs stay queued
// unless a test starts a plain BullMQ worker of its own.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `test-producer-${process.pid}-${Date.now().toString(36)}`;
const redis = new IORedis(REDIS_URL);
let producer: SentimentProducer;

beforeAll(async () => {
  producer = new SentimentProducer({
    redisUrl: REDIS_URL,
    prefix,
    maxQueueDepth: 3,
    maxTextChars: 50,
    maxBatchItems: 4,
    depthCacheMs: 0,
  });
  await producer.ready();
});

afterAll(async () => {
  await producer.close();
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

afterEach(async () => {
  await producer.queue.drain(true);
});

it('enqueues a versioned payload with prediction ids and reports it queued', async () => {
  const { jobId, items, existing } = await producer.enqueue(
    [{ text: 'hello' }, { text: 'world', id: 'w1' }],
    { source: 'app' },
  );
  expect(existing).toBe(false);
  expect(items).toEqual([
    { id: `${jobId}-0`, text: 'hello' },
    { id: 'w1', text: 'world' },
  ]);
  const job = await producer.queue.getJob(jobId);
  expect(job?.data).toEqual({ v: 1, items, source: 'app', enqueuedAt: expect.any(Number) });
  expect(job?.opts.attempts).toBe(3);
  expect(await producer.getJob(jobId)).toEqual({ jobId, status: 'queued', items: 2 });
  expect(await producer.getJob('never-enqueued')).toBeUndefined();
});

it('validates with the gateway rules before touching Redis', async () => {
  const cases: Array<[Parameters<SentimentProducer['enqueue']>, string[]]> = [
    [[[]], ['items']],
    [[[{ text: ' ' }, { text: 'x'.repeat(51) }]], ['items[0].text', 'items[1].text']],
    [[Array.from({ length: 5 }, () => ({ text: 'a' }))], ['items']],
    [[[{ text: 'a', id: 'has space' }]], ['items[0].id']],
    [[[{ text: 'a' }], { source: '' }], ['source']],
  ];
  for (const [args, fields] of cases) {
    const error = await producer.enqueue(...args).catch((caught) => caught);
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).errors.map((item) => item.field)).toEqual(fields);
  }
  expect(await producer.queue.count()).toBe(0);
});

it('returns the existing job for a retried id and refuses the id for other texts', async () => {
  const first = await producer.enqueue([{ text: 'same', id: 'idem-1' }]);
  const retry = await producer.enqueue([{ text: 'same', id: 'idem-1' }]);
  expect(retry).toEqual({ jobId: first.jobId, items: first.items, existing: true });
  expect(await producer.queue.count()).toBe(1);
  await expect(producer.enqueue([{ text: 'different', id: 'idem-1' }])).rejects.toBeInstanceOf(
    IdempotencyConflictError,
  );
});

it('holds a client id to its text in every job: another text under it is refused, naming the item', async () => {
  await producer.enqueue([{ text: 'the first text', id: 'held-1' }]);
  // Another job (other ids beside it), the same id, another text: refused, and nothing enqueued.
  const error = await producer
    .enqueue([
      { text: 'new', id: 'held-2' },
      { text: 'a second text', id: 'held-1' },
    ])
    .catch((caught) => caught);
  expect(error).toBeInstanceOf(IdempotencyConflictError);
  expect((error as IdempotencyConflictError).errors).toEqual([
    { field: 'items[1].id', message: '"held-1" was already used for another text' },
  ]);
  expect(await producer.queue.count()).toBe(1);
  // All or none: "held-2" was not taken by the refused job, and "held-1" keeps its text in a new job.
  const next = await producer.enqueue([
    { text: 'the first text', id: 'held-1' },
    { text: 'other', id: 'held-2' },
  ]);
  expect(next.existing).toBe(false);
  await expect(producer.enqueue([{ text: 'mixed', id: 'held-2' }, { text: 'no id' }])).rejects.toMatchObject({
    errors: [{ field: 'items[0].id' }],
  });
  // Another tenant's ids are its own.
  expect(
    (await producer.enqueue([{ text: 'a second text', id: 'held-1' }], { tenant: 'other' })).existing,
  ).toBe(false);
});

it('claims ids for as long as results are kept, and not at all with idClaimMaxEntries 0', async () => {
  const short = new SentimentProducer({
    redisUrl: REDIS_URL,
    prefix: `${prefix}-short`,
    retention: { completedAgeSeconds: 1, completedCount: 10, failedAgeSeconds: 1, failedCount: 10 },
  });
  const unclaimed = new SentimentProducer({
    redisUrl: REDIS_URL,
    prefix: `${prefix}-off`,
    idClaimMaxEntries: 0,
  });
  try {
    await short.enqueue([
      { text: 'before', id: 'brief' },
      { text: 'x', id: 'brief-2' },
    ]);
    await expect(short.enqueue([{ text: 'after', id: 'brief' }])).rejects.toBeInstanceOf(
      IdempotencyConflictError,
    );
    // A bucket of a ring of 8 lives retainMs x 8/7: gone after 1.15 s.
    await new Promise((resolve) => setTimeout(resolve, 1_250));
    expect((await short.enqueue([{ text: 'after', id: 'brief' }])).existing).toBe(false);
    await unclaimed.enqueue([
      { text: 'before', id: 'free' },
      { text: 'x', id: 'free-2' },
    ]);
    expect((await unclaimed.enqueue([{ text: 'after', id: 'free' }])).existing).toBe(false);
    expect(await redis.keys(`${prefix}-off:id-claims*`)).toEqual([]);
  } finally {
    await Promise.all([short.close(), unclaimed.close()]);
    const keys = await redis.keys(`${prefix}-*`);
    if (keys.length > 0) await redis.del(...keys);
  }
});

it('refuses new work once the waiting queue reaches its limit, without dropping accepted jobs', async () => {
  for (let i = 0; i < 3; i++) await producer.enqueue([{ text: `job ${i}` }]);
  const error = await producer.enqueue([{ text: 'one too many' }]).catch((caught) => caught);
  expect(error).toBeInstanceOf(QueueFullError);
  expect(error).toMatchObject({ depth: 3, limit: 3, retryAfterSeconds: 2 });
  expect(await producer.queue.getWaitingCount()).toBe(3);
});

it('gives the ids of a refused enqueue back: after a queue_full, the id may carry another text', async () => {
  for (let i = 0; i < 3; i++) await producer.enqueue([{ text: `filler ${i}` }]);
  await expect(producer.enqueue([{ text: 'refused text', id: 'refused-1' }])).rejects.toBeInstanceOf(
    QueueFullError,
  );
  await producer.queue.drain(true);
  const accepted = await producer.enqueue([{ text: 'another text', id: 'refused-1' }]);
  expect(accepted.existing).toBe(false);
  // ...and it is held for that text now.
  await expect(producer.enqueue([{ text: 'refused text', id: 'refused-1' }])).rejects.toBeInstanceOf(
    IdempotencyConflictError,
  );
});

it('decides concurrent enqueues on one reading: exactly the room left is taken', async () => {
  const outcomes = await Promise.allSettled(
    Array.from({ length: 8 }, (_, index) => producer.enqueue([{ text: `concurrent ${index}` }])),
  );
  expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(3);
  for (const outcome of outcomes.filter((outcome) => outcome.status === 'rejected'))
    expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(QueueFullError);
  expect(await producer.queue.getWaitingCount()).toBe(3);
});

it('refuses only on a fresh reading: room made by workers since the cached one is used', async () => {
  const cached = new SentimentProducer({
    redisUrl: REDIS_URL,
    prefix,
    maxQueueDepth: 2,
    depthCacheMs: 60_000,
  });
  try {
    await cached.enqueue([{ text: 'first' }]);
    await cached.enqueue([{ text: 'second' }]);
    await cached.queue.drain(); // what a worker taking both would leave
    await expect(cached.enqueue([{ text: 'third' }])).resolves.toMatchObject({ existing: false });
    await expect(cached.enqueue([{ text: 'fourth' }])).resolves.toMatchObject({ existing: false });
    await expect(cached.enqueue([{ text: 'fifth' }])).rejects.toBeInstanceOf(QueueFullError);
  } finally {
    await cached.close();
  }
});

it('times out waiting for a result nobody produces', async () => {
  const { jobId } = await producer.enqueue([{ text: 'no worker here' }]);
  await expect(producer.waitForResult(jobId, 200)).rejects.toEqual(new ResultTimeoutError(jobId, 200));
  const watched = await producer.enqueue([{ text: 'watched, no worker' }], { awaitResult: true });
  await expect(producer.waitForResult(watched.jobId, 200)).rejects.toEqual(
    new ResultTimeoutError(watched.jobId, 200),
  );
});

it('returns results and failures produced by a worker', async () => {
  // A connection handed to BullMQ stays the caller's to close.
  const workerConnection = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
  const worker = new Worker(
    QueueName.Sentiment,
    async (job) => {
      if (job.data.items[0].text === 'fail') throw new Error('boom');
      return {
        v: 1,
        model: { name: 'm', version: '1' },
        predictions: [],
        timings: { queueMs: 0, processingMs: 0 },
      };
    },
    { connection: workerConnection, prefix },
  );
  const failing = new SentimentProducer({ redisUrl: REDIS_URL, prefix, attempts: 1 });
  try {
    const result = await producer.classify([{ text: 'ok' }], 10_000);
    expect(result.model).toEqual({ name: 'm', version: '1' });
    const { jobId } = await failing.enqueue([{ text: 'fail' }]);
    await expect(failing.waitForResult(jobId, 10_000)).rejects.toEqual(new JobFailedError(jobId, 'boom'));
    expect(await producer.getJob(jobId)).toMatchObject({ status: 'failed', error: 'boom' });
    const watched = await failing.enqueue([{ text: 'fail' }, { text: 'again' }], { awaitResult: true });
    await expect(failing.waitForResult(watched.jobId, 10_000)).rejects.toEqual(
      new JobFailedError(watched.jobId, 'boom'),
    );
    // A watched job that finished before the wait began is answered from its finish event: the job's
    // record is gone from Redis here, so the answer cannot have come from there.
    const early = await producer.enqueue([{ text: 'early' }], { awaitResult: true });
    await waitFor(async () => (await producer.queue.getJobState(early.jobId)) === 'completed');
    await producer.queue.remove(early.jobId);
    await expect(producer.waitForResult(early.jobId, 10_000)).resolves.toMatchObject({
      model: { name: 'm', version: '1' },
    });
  } finally {
    await worker.close();
    workerConnection.disconnect();
    await failing.close();
  }
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

it("scopes an internal producer's jobs by its tenant: only that tenant reads them", async () => {
  const alerts = new SentimentProducer({ redisUrl: REDIS_URL, prefix, tenant: 'alerts', depthCacheMs: 0 });
  try {
    const { jobId } = await alerts.enqueue([{ text: 'spike in complaints', id: 'a-1' }]);
    expect(jobId).toBe('alerts~t-a-1');
    expect((await producer.queue.getJob(jobId))?.data.tenant).toBe('alerts');
    expect(await alerts.getJob(jobId)).toMatchObject({ jobId, status: 'queued' });
    // The unowned producer, or another tenant named per call, finds nothing.
    expect(await producer.getJob(jobId)).toBeUndefined();
    expect(await alerts.getJob(jobId, 'billing')).toBeUndefined();
    expect(await alerts.jobItems(jobId, 'billing')).toBeUndefined();
    // The same client id unowned is another job, not a conflict.
    expect((await producer.enqueue([{ text: 'other text', id: 'a-1' }])).jobId).toBe('t-a-1');
    await expect(alerts.enqueue([{ text: 'x' }], { tenant: 'Not Valid' })).rejects.toBeInstanceOf(
      InvalidRequestError,
    );
  } finally {
    await alerts.close();
  }
});

it('does not confirm a job whose connection died while its WAIT was out, though ioredis sends the WAIT again', async () => {
  // This Redis has no replica: a WAIT for one is out until its timeout, time enough to kill its connection.
  const waiting = new SentimentProducer({
    redis: { url: REDIS_URL, waitReplicas: 1, waitTimeoutMs: 1_500 },
    prefix,
    depthCacheMs: 0,
  });
  try {
    await waiting.ready();
    const enqueued = waiting.enqueue([{ text: 'confirmed on a dead connection?', id: 'wait-killed' }]);
    let waitingClient: string | undefined;
    for (let tries = 0; waitingClient === undefined && tries < 100; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      const clients = (await redis.client('LIST')) as string;
      waitingClient = /(?:^|\n)id=(\d+) [^\n]*cmd=wait\b/.exec(clients)?.[1];
    }
    expect(waitingClient).toBeDefined();
    await redis.client('KILL', 'ID', waitingClient!);
    const refused = await enqueued.catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(NotReplicatedError);
    expect(refused).toMatchObject({ jobId: 't-wait-killed', wanted: 1, acked: 0 });
    // The job itself is on the primary: an unchanged retry finds it.
    expect(await producer.queue.getJob('t-wait-killed')).toBeDefined();
  } finally {
    await waiting.close();
  }
});

it('lets exactly one of concurrent enqueues with one id and different texts win', async () => {
  const outcomes = await Promise.allSettled(
    Array.from({ length: 3 }, (_, index) => producer.enqueue([{ text: `racer ${index}`, id: 'race' }])),
  );
  const won = outcomes.filter((outcome) => outcome.status === 'fulfilled');
  expect(won).toHaveLength(1);
  for (const outcome of outcomes.filter((outcome) => outcome.status === 'rejected'))
    expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(IdempotencyConflictError);
  const stored = await producer.queue.getJob('t-race');
  expect(stored?.data.items[0].text).toBe(
    (won[0] as PromiseFulfilledResult<{ items: Array<{ text: string }> }>).value.items[0].text,
  );
});

it('starts listening for completions once it can read the event stream, when it could not at first', async () => {
  // A user of this run's own whose keys are this run's: at first it may not read streams, so starting the
  // event listener fails (NOPERM).
  const user = `${prefix}-user`;
  await redis.acl('SETUSER', user, 'on', '>secret', `~${prefix}:*`, '&*', '+@all', '-xrevrange');
  const { hostname, port } = new URL(REDIS_URL);
  const own = new SentimentProducer({ redisUrl: `redis://${user}:secret@${hostname}:${port}`, prefix });
  const completed: string[] = [];
  let worker: Worker | undefined;
  try {
    // Before ready(): nothing has read the stream yet. The failure used to be an unhandled rejection, and
    // the listener was never added.
    own.onCompleted((jobId) => completed.push(jobId));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await redis.acl('SETUSER', user, '+xrevrange');
    worker = new Worker(QueueName.Sentiment, async () => ({ done: true }), {
      connection: { host: hostname, port: Number(port), maxRetriesPerRequest: null },
      prefix,
    });
    await own.ready();
    // The listener's retry (every second) comes after ready() had its own start of the event stream.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const { jobId } = await own.enqueue([{ text: 'seen at last' }]);
    await waitFor(async () => completed.includes(jobId));
    expect(completed).toEqual([jobId]);
  } finally {
    await worker?.close();
    await own.close();
    await redis.acl('DELUSER', user);
  }
});
