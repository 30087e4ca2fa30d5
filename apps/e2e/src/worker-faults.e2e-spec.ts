import { Job, Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { QueueName, SentimentJobName } from '@reputation-monitor/contracts';
import { SentimentProducer } from '@reputation-monitor/producer-client';
import { REDIS_URL, SMALL_MODEL_DIR } from './support/paths';
import { spawnApp, startGateway, startWorker, stopAll, waitFor } from './support/apps';
import { getJson, postJson } from './support/http';
import { connectRedis, deletePrefix, uniquePrefix } from './support/redis';

let redis: Redis;
const prefixes: string[] = [];

function freshPrefix(name: string): string {
  const prefix = uniquePrefix(name);
  prefixes.push(prefix);
  return prefix;
}

beforeAll(() => {
  redis = connectRedis();
});

afterAll(async () => {
  await stopAll();
  for (const prefix of prefixes) await deletePrefix(redis, prefix);
  redis.disconnect();
});

async function withProducer<T>(prefix: string, use: (producer: SentimentProducer) => Promise<T>): Promise<T> {
  const producer = new SentimentProducer({ redisUrl: REDIS_URL, prefix });
  await producer.ready();
  try {
    return await use(producer);
  } finally {
    await producer.close();
  }
}

async function untilActive(producer: SentimentProducer, jobId: string): Promise<void> {
  await waitFor(
    async () => ((await producer.queue.getJobState(jobId)) === 'active' ? true : undefined),
    20_000,
    `job ${jobId} to be active`,
  );
}

describe('inference worker faults', () => {
  it('a job whose worker is killed mid-job is completed by a restarted worker', async () => {
    const prefix = freshPrefix('killed');
    await withProducer(prefix, async (producer) => {
      // The first worker holds the job in its batcher for a minute, so the kill lands mid-job.
      const doomed = await startWorker({
        QUEUE_PREFIX: prefix,
        BATCH_MAX_WAIT_MS: '60000',
        LOCK_DURATION_MS: '1500',
        STALLED_INTERVAL_MS: '500',
      });
      const { jobId } = await producer.enqueue([{ text: 'this job outlives its first worker' }]);
      await untilActive(producer, jobId);
      await doomed.stop('SIGKILL');

      await startWorker({ QUEUE_PREFIX: prefix, STALLED_INTERVAL_MS: '500' });
      const result = await producer.waitForResult(jobId, 30_000);
      expect(result.predictions).toHaveLength(1);
      const job = await Job.fromId(producer.queue, jobId);
      expect(job?.stalledCounter).toBe(1);
    });
  });

  it('on SIGTERM stops taking jobs, finishes the one in flight, then exits 0', async () => {
    const prefix = freshPrefix('graceful');
    await withProducer(prefix, async (producer) => {
      const worker = await startWorker({ QUEUE_PREFIX: prefix, BATCH_MAX_WAIT_MS: '1500' });
      const { jobId } = await producer.enqueue([{ text: 'finish me before you go' }]);
      await untilActive(producer, jobId);
      const exitCode = await worker.stop('SIGTERM');
      expect(exitCode).toBe(0);
      expect(await producer.queue.getJobState(jobId)).toBe('completed');
      // Nothing of the stopped worker is left holding work or claiming to be alive.
      expect(await redis.zcard(`${prefix}:workers:heartbeats`)).toBe(0);
    });
  });

  it('fails invalid payloads and unknown job names at once, without retries, and keeps serving', async () => {
    const prefix = freshPrefix('invalid');
    await startWorker({ QUEUE_PREFIX: prefix });
    const queue = new Queue(QueueName.Sentiment, { connection: { url: REDIS_URL } as never, prefix });
    const events = new QueueEvents(QueueName.Sentiment, { connection: { url: REDIS_URL } as never, prefix });
    await events.waitUntilReady();
    try {
      const attempts = { attempts: 5, backoff: { type: 'fixed', delay: 10 } };
      const cases: Array<[string, unknown, string]> = [
        [
          SentimentJobName.Classify,
          { v: 2, items: [] },
          'invalid job payload: unsupported payload version 2',
        ],
        [
          SentimentJobName.Classify,
          { v: 1, items: [{ id: 'a', text: '  ' }], enqueuedAt: 1 },
          'invalid job payload: items[0].text must not be empty or only whitespace',
        ],
        ['explode', { v: 1 }, 'no handler for job name "explode"'],
      ];
      for (const [name, data, reason] of cases) {
        const job = await queue.add(name, data, attempts);
        await expect(job.waitUntilFinished(events, 20_000)).rejects.toThrow(reason);
        const failed = await Job.fromId(queue, job.id!);
        expect(failed?.attemptsMade).toBe(1);
      }
      await withProducer(prefix, async (producer) => {
        const result = await producer.classify([{ text: 'still serving' }], 20_000);
        expect(result.predictions).toHaveLength(1);
      });
    } finally {
      await events.close();
      await queue.close();
    }
  });

  it('reports a job the worker fails as a 500 problem, and the job as failed', async () => {
    // A misconfiguration: the worker accepts shorter texts than the gateway, so it rejects the payload.
    const prefix = freshPrefix('mismatch');
    await startWorker({ QUEUE_PREFIX: prefix, MAX_TEXT_CHARS: '10' });
    const gateway = await startGateway({ QUEUE_PREFIX: prefix, SYNC_TIMEOUT_MS: '20000' });
    const response = await postJson(`${gateway.url}/v1/sentiment`, {
      text: 'longer than ten characters',
      id: 'too-long',
    });
    expect(response.status).toBe(500);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.body.code).toBe('inference_failed');
    expect(response.body.detail).toContain(
      'invalid job payload: items[0].text must be at most 10 characters',
    );
    const job = await getJson(`${gateway.url}/v1/jobs/t-too-long`);
    expect(job.body).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('invalid job payload'),
    });
  });

  it('keeps job locks renewed while a batch computes for longer than the lock duration', async () => {
    const prefix = freshPrefix('locks');
    const lockDurationMs = 1_000;
    await startWorker({
      QUEUE_PREFIX: prefix,
      MODEL_DIR: SMALL_MODEL_DIR,
      INTRA_OP_THREADS: '2',
      LOCK_DURATION_MS: String(lockDurationMs),
      STALLED_INTERVAL_MS: '500',
      BATCH_MAX_TOKENS: String(64 * 512),
      BATCH_MAX_TEXTS: '64',
    });
    const events = new QueueEvents(QueueName.Sentiment, { connection: { url: REDIS_URL } as never, prefix });
    await events.waitUntilReady();
    const stalled: string[] = [];
    events.on('stalled', ({ jobId }) => stalled.push(jobId));
    try {
      await withProducer(prefix, async (producer) => {
        // 64 texts of 512 tokens in one batch: seconds of compute on the small model, even on a fast idle core.
        const items = Array.from({ length: 64 }, (_, index) => ({
          text: `${index} ` + 'a long complaint about the service '.repeat(120),
        }));
        const { jobId } = await producer.enqueue(items);
        const result = await producer.waitForResult(jobId, 90_000);
        expect(
          result.predictions.every((prediction) => prediction.truncated && prediction.tokens === 512),
        ).toBe(true);
        // The premise of the test: the job really held its lock longer than one lock period.
        expect(result.timings.processingMs).toBeGreaterThan(lockDurationMs * 1.5);
        const job = await Job.fromId(producer.queue, jobId);
        expect(job?.stalledCounter).toBe(0);
        expect(stalled).toEqual([]);
      });
    } finally {
      await events.close();
    }
  });
});

describe('inference worker boot', () => {
  it('exits with a message naming the missing model directory', async () => {
    const worker = spawnApp('worker', {
      MODEL_DIR: '/nonexistent/model',
      QUEUE_PREFIX: freshPrefix('boot'),
      HEALTH_PORT: '0',
    });
    expect(await worker.stop('SIGCONT')).toBe(1);
    expect(worker.logs()).toContain('model directory /nonexistent/model does not exist');
    expect(worker.logs()).toContain('model:synthetic');
  });

  it('exits naming each bad variable', async () => {
    const worker = spawnApp('worker', {
      BATCH_MAX_TEXTS: '0',
      MODEL_VARIANT: 'fp16',
      INTRA_OP_THREADS: 'many',
    });
    expect(await worker.stop('SIGCONT')).toBe(1);
    expect(worker.logs()).toContain('BATCH_MAX_TEXTS must be an integer in 1..4096, got 0');
    expect(worker.logs()).toContain('MODEL_VARIANT must be one of fp32, int8, got "fp16"');
    expect(worker.logs()).toContain('INTRA_OP_THREADS must be an integer, got "many"');
  });
});
