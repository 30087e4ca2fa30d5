import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Redis } from 'ioredis';
import { SENTIMENT_LABELS, decodeExample, redisKeys } from '@reputation-monitor/contracts';
import { exampleId } from '@reputation-monitor/prediction-store';
import { SentimentTokenizer } from '@reputation-monitor/tokenizer';
import { TINY_MODEL_DIR } from './support/paths';
import { AppProcess, startGateway, startWorker, stopAll, waitFor } from './support/apps';
import { connectRedis, deletePrefix, uniquePrefix } from './support/redis';
import { getJson, postJson } from './support/http';

const prefix = uniquePrefix('serving');
let redis: Redis;
let gateway: AppProcess;
let worker: AppProcess;

const TEXTS = [
  'I absolutely love the new update, great work @acme! https://t.co/xyz',
  'Worst customer service I have ever had. Never again.',
  'The store opens at 9am tomorrow.',
  'meh',
  'Not sure how I feel about the redesign... some parts are nice, others are really confusing and the old layout made much more sense to me',
];

beforeAll(async () => {
  redis = connectRedis();
  worker = await startWorker({ QUEUE_PREFIX: prefix, METRIC_SOURCES: 'twitter,news' });
  gateway = await startGateway({ QUEUE_PREFIX: prefix, SYNC_TIMEOUT_MS: '20000' });
});

afterAll(async () => {
  await stopAll();
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

/** Scores straight from ONNX Runtime, with no queue, batcher or thread in between. */
async function directScores(texts: string[]): Promise<number[][]> {
  const tokenizer = await SentimentTokenizer.fromDirectory(TINY_MODEL_DIR);
  const session = await ort.InferenceSession.create(join(TINY_MODEL_DIR, 'onnx/model.onnx'));
  const rows: number[][] = [];
  for (const text of texts) {
    const { ids } = tokenizer.encode(text);
    const dims = [1, ids.length];
    const output = await session.run({
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), dims),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(ids.length).fill(1n), dims),
    });
    const logits = Array.from(output.logits.data as Float32Array);
    const max = Math.max(...logits);
    const exps = logits.map((value) => Math.exp(value - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    rows.push(exps.map((value) => value / sum));
  }
  await session.release();
  return rows;
}

describe('POST /v1/sentiment', () => {
  it('answers with the label, every score, the model and timings', async () => {
    const response = await postJson(`${gateway.url}/v1/sentiment`, { text: TEXTS[0], source: 'twitter' });
    expect(response.status).toBe(200);
    const body = response.body;
    expect(SENTIMENT_LABELS).toContain(body.label);
    expect(Object.keys(body.scores).sort()).toEqual(['negative', 'neutral', 'positive']);
    const total = body.scores.negative + body.scores.neutral + body.scores.positive;
    expect(total).toBeCloseTo(1, 5);
    expect(body.label).toBe(Object.entries(body.scores).sort((a: any, b: any) => b[1] - a[1])[0][0]);
    expect(body.model).toEqual({
      name: 'synthetic-tiny',
      version: expect.stringMatching(/^fp32-[0-9a-f]{12}$/),
    });
    expect(body.truncated).toBe(false);
    expect(body.tokens).toBeGreaterThan(2);
    expect(body.timings).toEqual({
      queueMs: expect.any(Number),
      processingMs: expect.any(Number),
      totalMs: expect.any(Number),
    });
    expect(typeof body.id).toBe('string');
  });

  it('gives the same labels and scores as a direct ONNX Runtime run on the same text', async () => {
    const expected = await directScores(TEXTS);
    const single = await Promise.all(TEXTS.map((text) => postJson(`${gateway.url}/v1/sentiment`, { text })));
    const batch = await postJson(`${gateway.url}/v1/sentiment/batch`, {
      items: TEXTS.map((text) => ({ text })),
    });
    expect(batch.status).toBe(200);
    TEXTS.forEach((_, index) => {
      for (const answer of [single[index].body, batch.body.results[index]]) {
        expect(answer.label).toBe(SENTIMENT_LABELS[expected[index].indexOf(Math.max(...expected[index]))]);
        expect(answer.scores.negative).toBeCloseTo(expected[index][0], 5);
        expect(answer.scores.neutral).toBeCloseTo(expected[index][1], 5);
        expect(answer.scores.positive).toBeCloseTo(expected[index][2], 5);
      }
    });
    // The synthetic model must separate texts, or this comparison would prove little.
    expect(new Set(batch.body.results.map((result: any) => result.label)).size).toBeGreaterThan(1);
  });

  it('reports truncation of texts longer than 512 tokens', async () => {
    const response = await postJson(`${gateway.url}/v1/sentiment`, { text: 'so good '.repeat(400) });
    expect(response.status).toBe(200);
    expect(response.body.truncated).toBe(true);
    expect(response.body.tokens).toBe(512);
  });
});

describe('POST /v1/sentiment/batch', () => {
  it('returns one result per item, in order, with the client ids', async () => {
    const items = TEXTS.map((text, index) => ({ text, id: `order-${index}` }));
    const response = await postJson(`${gateway.url}/v1/sentiment/batch`, { items, source: 'forum' });
    expect(response.status).toBe(200);
    expect(response.body.results.map((result: any) => result.id)).toEqual(items.map((item) => item.id));
    expect(response.body.jobId).toMatch(/^b-[0-9a-f]{40}$/);
  });

  it('numbers items without ids after the job id', async () => {
    const response = await postJson(`${gateway.url}/v1/sentiment/batch`, {
      items: [{ text: 'a' }, { text: 'b' }],
    });
    expect(response.body.results.map((result: any) => result.id)).toEqual([
      `${response.body.jobId}-0`,
      `${response.body.jobId}-1`,
    ]);
  });
});

describe('async mode', () => {
  it('answers 202 with a status URL that later holds the results', async () => {
    const accepted = await postJson(`${gateway.url}/v1/sentiment/batch?wait=false`, {
      items: [{ text: TEXTS[1] }, { text: TEXTS[2] }],
    });
    expect(accepted.status).toBe(202);
    expect(accepted.body).toEqual({
      jobId: expect.any(String),
      status: 'queued',
      statusUrl: `/v1/jobs/${accepted.body.jobId}`,
    });
    expect(accepted.headers.get('location')).toBe(accepted.body.statusUrl);
    const done = await waitFor(
      async () => {
        const job = await getJson(gateway.url + accepted.body.statusUrl);
        return job.body.status === 'completed' ? job : undefined;
      },
      20_000,
      'the job to complete',
    );
    expect(done.status).toBe(200);
    expect(done.body.items).toBe(2);
    expect(done.body.results).toHaveLength(2);
    expect(done.body.model.name).toBe('synthetic-tiny');
  });

  it('answers 404 problem+json for unknown job ids', async () => {
    for (const id of ['no-such-job', 'bad:id', 'x'.repeat(300)]) {
      const response = await getJson(`${gateway.url}/v1/jobs/${id}`);
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(response.body.code).toBe('not_found');
    }
  });
});

describe('idempotent retries', () => {
  it('runs a text with a client id once, however often it is sent', async () => {
    const id = `retry-${Date.now()}`;
    const first = await postJson(`${gateway.url}/v1/sentiment`, { text: TEXTS[3], id });
    const again = await Promise.all(
      [1, 2, 3].map(() => postJson(`${gateway.url}/v1/sentiment`, { text: TEXTS[3], id })),
    );
    expect(first.status).toBe(200);
    for (const response of again) {
      expect(response.status).toBe(200);
      expect(response.body.scores).toEqual(first.body.scores);
      expect(response.body.id).toBe(id);
    }
    // One inference, so one entry in the prediction stream.
    const entries = await redis.xrange(redisKeys.predictionStream(prefix), '-', '+');
    expect(entries.filter(([, fields]) => fields[fields.indexOf('id') + 1] === id)).toHaveLength(1);
  });

  it('refuses to reuse an id for a different text with 409', async () => {
    const id = `conflict-${Date.now()}`;
    expect((await postJson(`${gateway.url}/v1/sentiment`, { text: 'first text', id })).status).toBe(200);
    const response = await postJson(`${gateway.url}/v1/sentiment`, { text: 'another text', id });
    expect(response.status).toBe(409);
    expect(response.body.code).toBe('idempotency_conflict');
  });

  it('holds an id to its text across jobs (409 naming the item), so feedback on it labels that text', async () => {
    const id = `held-${Date.now()}`;
    const first = await postJson(`${gateway.url}/v1/sentiment/batch`, { items: [{ text: TEXTS[0], id }] });
    expect(first.status).toBe(200);
    // Another batch (another job id) reusing the id for another text.
    const batch = await postJson(`${gateway.url}/v1/sentiment/batch`, {
      items: [
        { text: TEXTS[1], id: `${id}-new` },
        { text: TEXTS[2], id },
      ],
    });
    expect(batch.status).toBe(409);
    expect(batch.body).toMatchObject({
      code: 'idempotency_conflict',
      errors: [{ field: 'items[1].id', message: `"${id}" was already used for another text` }],
    });
    // The same text under the id in a new batch is fine (the id still names that text).
    const again = await postJson(`${gateway.url}/v1/sentiment/batch`, {
      items: [
        { text: TEXTS[0], id },
        { text: TEXTS[1], id: `${id}-new` },
      ],
    });
    expect(again.status).toBe(200);
    // A single request reusing an id of that batch: the field is its own `id`.
    const single = await postJson(`${gateway.url}/v1/sentiment`, { text: TEXTS[2], id: `${id}-new` });
    expect(single.status).toBe(409);
    expect(single.body.errors).toEqual([
      { field: 'id', message: `"${id}-new" was already used for another text` },
    ]);
    const feedback = await postJson(`${gateway.url}/v1/feedback`, { id, label: 'negative' });
    expect(feedback.body.example).toEqual({ id: exampleId(TEXTS[0]), status: expect.any(String) });
  });

  it('dedupes a retried batch whose items all carry ids', async () => {
    const items = [
      { text: 'one', id: `bat-a-${Date.now()}` },
      { text: 'two', id: `bat-b-${Date.now()}` },
    ];
    const first = await postJson(`${gateway.url}/v1/sentiment/batch`, { items });
    const second = await postJson(`${gateway.url}/v1/sentiment/batch`, { items });
    expect(second.body.jobId).toBe(first.body.jobId);
    expect(second.body.results).toEqual(first.body.results);
  });
});

describe('prediction stream', () => {
  it('records each prediction with its label, scores, tokens, model version and source', async () => {
    const id = `stream-${Date.now()}`;
    const answer = await postJson(`${gateway.url}/v1/sentiment`, { text: TEXTS[2], id, source: 'news' });
    const entries = await redis.xrange(redisKeys.predictionStream(prefix), '-', '+');
    const entry = entries.find(([, fields]) => fields[fields.indexOf('id') + 1] === id);
    expect(entry).toBeDefined();
    const fields = Object.fromEntries(
      entry![1].reduce<string[][]>(
        (pairs, value, index, all) => (index % 2 === 0 ? [...pairs, [value, all[index + 1]]] : pairs),
        [],
      ),
    );
    expect(fields).toMatchObject({
      label: answer.body.label,
      tokens: String(answer.body.tokens),
      truncated: '0',
      version: answer.body.model.version,
      source: 'news',
    });
    expect(Number(fields.positive)).toBeCloseTo(answer.body.scores.positive, 5);
  });
});

describe('health', () => {
  it('is ready with Redis up and a worker heartbeat', async () => {
    const response = await getJson(`${gateway.url}/health/ready`);
    expect(response.status).toBe(200);
    expect(response.body.details.workers).toEqual({ status: 'up', alive: 1 });
    expect(response.body.details.redis.status).toBe('up');
  });

  it('serves the OpenAPI document', async () => {
    const response = await getJson(`${gateway.url}/docs/openapi.json`);
    expect(response.status).toBe(200);
    expect(Object.keys(response.body.paths)).toEqual(
      expect.arrayContaining(['/v1/sentiment', '/v1/sentiment/batch', '/v1/jobs/{id}', '/health/ready']),
    );
  });
});

describe('POST /v1/feedback', () => {
  it('stores a label for a known prediction and replaces it on a second label', async () => {
    const id = `fb-${Date.now()}`;
    const prediction = await postJson(`${gateway.url}/v1/sentiment`, { text: TEXTS[1], id });
    const first = await postJson(`${gateway.url}/v1/feedback`, { id, label: 'Negative' });
    expect(first.status).toBe(200);
    expect(first.body).toEqual({
      id,
      status: 'stored',
      label: 'negative',
      predicted: prediction.body.label,
      modelVersion: prediction.body.model.version,
      // No text in the feedback: taken from the job, and kept for retraining.
      example: { id: exampleId(TEXTS[1]), status: 'stored' },
    });
    const second = await postJson(`${gateway.url}/v1/feedback`, { id, label: 2 });
    expect(second.body).toMatchObject({
      status: 'replaced',
      label: 'positive',
      example: { id: exampleId(TEXTS[1]), status: 'relabelled' },
    });
    const pending = decodeExample(
      (await redis.hget(redisKeys.examplesPending(prefix), exampleId(TEXTS[1])))!,
    );
    expect(pending).toMatchObject({
      ok: true,
      example: {
        text: TEXTS[1],
        label: 'positive',
        origin: 'feedback',
        predictionId: id,
        predicted: prediction.body.label,
        modelVersion: prediction.body.model.version,
      },
    });
    const stored = JSON.parse((await redis.get(`${prefix}:feedback:${id}`)) as string);
    expect(stored).toMatchObject({ id, label: 'positive', predicted: prediction.body.label });
    expect(await redis.ttl(`${prefix}:feedback:${id}`)).toBeGreaterThan(29 * 86_400);
    expect(await redis.zscore(`${prefix}:feedback-by-time`, id)).not.toBeNull();
  });

  it('keeps the text given with the label, and says so when no text can be found', async () => {
    const given = `fbt-${Date.now()}`;
    await postJson(`${gateway.url}/v1/sentiment`, { text: TEXTS[3], id: given, source: 'twitter' });
    const withText = await postJson(`${gateway.url}/v1/feedback`, {
      id: given,
      label: 'neutral',
      text: 'meh (as the client saw it)',
    });
    expect(withText.body.example).toEqual({ id: exampleId('meh (as the client saw it)'), status: 'stored' });

    // The job is gone (past RESULT_TTL_SECONDS): no text to keep, the label itself is still stored.
    const gone = `fbg-${Date.now()}`;
    await postJson(`${gateway.url}/v1/sentiment`, { text: TEXTS[4], id: gone });
    await redis.del(`${prefix}:sentiment:t-${gone}`);
    const withoutJob = await postJson(`${gateway.url}/v1/feedback`, { id: gone, label: 'negative' });
    expect(withoutJob.status).toBe(200);
    expect(withoutJob.body).toMatchObject({
      status: 'stored',
      example: { id: null, status: 'no_text', reason: 'no text given, and the job is no longer kept' },
    });
    expect(await redis.hexists(redisKeys.examplesPending(prefix), exampleId(TEXTS[4]))).toBe(0);
  });

  it('refuses a feedback text the API would not classify, storing nothing', async () => {
    const id = `fbx-${Date.now()}`;
    await postJson(`${gateway.url}/v1/sentiment`, { text: TEXTS[2], id });
    for (const text of ['   ', 42, 'x'.repeat(5_001)]) {
      const response = await postJson(`${gateway.url}/v1/feedback`, { id, label: 'neutral', text });
      expect(response.status).toBe(422);
      expect(response.body.errors.map((error: { field: string }) => error.field)).toContain('text');
    }
    expect(await redis.exists(`${prefix}:feedback:${id}`)).toBe(0);
  });

  it('answers 404 for an unknown prediction id and stores nothing', async () => {
    const response = await postJson(`${gateway.url}/v1/feedback`, {
      id: 'never-predicted',
      label: 'neutral',
    });
    expect(response.status).toBe(404);
    expect(response.body.code).toBe('not_found');
    expect(await redis.exists(`${prefix}:feedback:never-predicted`)).toBe(0);
  });

  it.each([
    [{ id: 'x', label: 'happy' }, 'label'],
    [{ id: 'x', label: 3 }, 'label'],
    [{ id: 'x', label: null }, 'label'],
    [{ id: 'x' }, 'label'],
    [{ id: 'bad:id', label: 0 }, 'id'],
    [{ label: 0 }, 'id'],
    [{ id: 'x', label: 0, note: 'extra' }, 'note'],
  ])('refuses %j with 422 naming %s', async (body, field) => {
    const response = await postJson(`${gateway.url}/v1/feedback`, body);
    expect(response.status).toBe(422);
    expect(response.body.errors.map((error: { field: string }) => error.field)).toContain(field);
    if (field === 'label' && 'label' in body && body.label !== null) {
      expect(response.body.detail).toContain(
        'must be one of negative, neutral, positive (any case) or 0, 1, 2',
      );
    }
  });

  it('takes a batch and reports each item', async () => {
    const id = `fbb-${Date.now()}`;
    await postJson(`${gateway.url}/v1/sentiment`, { text: TEXTS[2], id });
    const response = await postJson(`${gateway.url}/v1/feedback/batch`, {
      items: [
        { id, label: 'neutral' },
        { id: 'unknown-one', label: 'neutral' },
      ],
    });
    expect(response.status).toBe(200);
    expect(response.body.results.map((result: { status: string }) => result.status)).toEqual([
      'stored',
      'not_found',
    ]);
    const invalid = await postJson(`${gateway.url}/v1/feedback/batch`, { items: [{ id, label: 'good' }] });
    expect(invalid.status).toBe(422);
    expect(invalid.body.errors[0].field).toBe('items[0].label');
    expect((await postJson(`${gateway.url}/v1/feedback/batch`, { items: [] })).status).toBe(422);
  });
});

describe('metrics', () => {
  type Reader = (name: string, labels?: Record<string, string>) => number | undefined;

  /**
   * Reads a Prometheus text exposition: the sum of the samples of `name` whose labels include the
   * given ones (label order in the text does not matter), or undefined when there is none.
   */
  async function scrape(url: string): Promise<Reader> {
    const response = await fetch(`${url}/metrics`);
    expect(response.status).toBe(200);
    const samples = (await response.text())
      .split('\n')
      .filter((line) => line && !line.startsWith('#'))
      .map((line) => {
        const match = line.match(/^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/);
        if (!match) throw new Error(`unparsable metrics line: ${line}`);
        const labels = Object.fromEntries(
          [...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
        );
        return { name: match[1], labels, value: Number(match[3]) };
      });
    return (name, labels = {}) => {
      const found = samples.filter(
        (sample) =>
          sample.name === name &&
          Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
      );
      return found.length === 0 ? undefined : found.reduce((sum, sample) => sum + sample.value, 0);
    };
  }

  it('gateway: request durations by route template, latency by mode, rejections and queue depth', async () => {
    await postJson(`${gateway.url}/v1/sentiment`, { text: 'metrics please' });
    await postJson(`${gateway.url}/v1/sentiment`, { text: '' });
    await postJson(`${gateway.url}/v1/sentiment`, '{ broken');
    const accepted = await postJson(`${gateway.url}/v1/sentiment?wait=false`, { text: 'later' });
    await waitFor(
      async () =>
        (await getJson(gateway.url + accepted.body.statusUrl)).body.status === 'completed' ? true : undefined,
      20_000,
      'the async job',
    );
    const value = await waitFor(
      async () => {
        const read = await scrape(gateway.url);
        return read('sentiment_request_latency_seconds_count', { mode: 'async' }) ? read : undefined;
      },
      10_000,
      'the async latency to be recorded',
    );
    const http = (labels: Record<string, string>) =>
      value('http_request_duration_seconds_count', { app: 'gateway', ...labels });
    expect(http({ route: '/v1/sentiment', method: 'POST', status: '200' })).toBeGreaterThan(0);
    expect(http({ route: '/v1/jobs/:id', method: 'GET', status: '200' })).toBeGreaterThan(0);
    expect(http({ route: '/v1/sentiment', method: 'POST', status: '400' })).toBe(1);
    expect(value('gateway_rejections_total', { reason: 'validation' })).toBeGreaterThanOrEqual(2);
    expect(value('sentiment_request_latency_seconds_count', { mode: 'sync' })).toBeGreaterThan(0);
    expect(value('sentiment_queue_jobs', { state: 'completed' })).toBeGreaterThan(0);
    expect(value('sentiment_queue_jobs', { state: 'waiting' })).toBe(0);
    expect(value('process_cpu_user_seconds_total', { app: 'gateway' })).toBeGreaterThan(0);
  });

  it('worker: queue wait, batches, predictions by label and bounded source, model info', async () => {
    await postJson(`${gateway.url}/v1/sentiment/batch`, {
      items: [{ text: 'one' }, { text: 'two' }],
      source: 'twitter',
    });
    await postJson(`${gateway.url}/v1/sentiment`, { text: 'three', source: 'some-blog' });
    const value = await scrape(worker.url);
    expect(
      value('sentiment_predictions_total', { source: 'twitter', app: 'inference-worker' }),
    ).toBeGreaterThanOrEqual(2);
    expect(value('sentiment_predictions_total', { source: 'other' })).toBeGreaterThanOrEqual(1);
    expect(value('sentiment_predictions_total', { source: 'some-blog' })).toBeUndefined();
    expect(value('sentiment_queue_wait_seconds_count', { queue: 'sentiment' })).toBeGreaterThan(0);
    expect(value('sentiment_inference_batch_texts_count')).toBeGreaterThan(0);
    expect(value('sentiment_inference_batch_padding_ratio_count')).toBeGreaterThan(0);
    expect(value('sentiment_inference_busy_seconds_total')).toBeGreaterThan(0);
    expect(value('sentiment_tokenization_seconds_count')).toBeGreaterThan(0);
    expect(value('sentiment_model_info', { name: 'synthetic-tiny', dtype: 'fp32' })).toBe(1);
  });
});

describe('POST /v1/examples', () => {
  it('keeps a labelled text once per label; another label replaces it', async () => {
    const text = `Imported example ${Date.now()}`;
    const first = await postJson(`${gateway.url}/v1/examples`, {
      text,
      label: 'Positive',
      source: 'annotation-tool',
    });
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ id: exampleId(text), status: 'stored', label: 'positive' });
    expect((await postJson(`${gateway.url}/v1/examples`, { text, label: 2 })).body.status).toBe('duplicate');
    expect((await postJson(`${gateway.url}/v1/examples`, { text, label: 'negative' })).body.status).toBe(
      'relabelled',
    );
    const stored = decodeExample((await redis.hget(redisKeys.examplesPending(prefix), exampleId(text)))!);
    expect(stored).toMatchObject({ ok: true, example: { text, label: 'negative', origin: 'import' } });
    expect(await redis.pttl(redisKeys.examplesPending(prefix))).toBeGreaterThan(6 * 86_400_000);
  });

  it('takes a batch, results in request order', async () => {
    const texts = [`batch a ${Date.now()}`, `batch b ${Date.now()}`];
    const response = await postJson(`${gateway.url}/v1/examples/batch`, {
      items: [
        { text: texts[0], label: 'neutral' },
        { text: texts[1], label: 0, source: 'csv-import' },
        { text: texts[0], label: 'neutral' },
      ],
    });
    expect(response.status).toBe(200);
    expect(response.body.results).toEqual([
      { id: exampleId(texts[0]), status: 'stored', label: 'neutral' },
      { id: exampleId(texts[1]), status: 'stored', label: 'negative' },
      { id: exampleId(texts[0]), status: 'duplicate', label: 'neutral' },
    ]);
  });

  it.each([
    [{ text: '', label: 'neutral' }, 'text'],
    [{ text: '  ', label: 'neutral' }, 'text'],
    [{ text: 7, label: 'neutral' }, 'text'],
    [{ label: 'neutral' }, 'text'],
    [{ text: 'x'.repeat(5_001), label: 'neutral' }, 'text'],
    [{ text: 'ok', label: 'meh' }, 'label'],
    [{ text: 'ok' }, 'label'],
    [{ text: 'ok', label: 1, source: 'bad source!' }, 'source'],
    [{ text: 'ok', label: 1, extra: true }, 'extra'],
  ])('refuses %j with 422 naming %s, keeping nothing', async (body, field) => {
    const before = await redis.hlen(redisKeys.examplesPending(prefix));
    const response = await postJson(`${gateway.url}/v1/examples`, body);
    expect(response.status).toBe(422);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(response.body.errors.map((error: { field: string }) => error.field)).toContain(field);
    expect(await redis.hlen(redisKeys.examplesPending(prefix))).toBe(before);
  });

  it('refuses a batch with a bad item or too many items as a whole, naming the item', async () => {
    const before = await redis.hlen(redisKeys.examplesPending(prefix));
    const bad = await postJson(`${gateway.url}/v1/examples/batch`, {
      items: [
        { text: `fine ${Date.now()}`, label: 0 },
        { text: 'x', label: 'nope' },
      ],
    });
    expect(bad.status).toBe(422);
    expect(bad.body.errors).toEqual([expect.objectContaining({ field: 'items[1].label' })]);
    const tooMany = await postJson(`${gateway.url}/v1/examples/batch`, {
      items: Array.from({ length: 257 }, (_, i) => ({ text: `t${i}`, label: 0 })),
    });
    expect(tooMany.status).toBe(422);
    expect((await postJson(`${gateway.url}/v1/examples/batch`, { items: [] })).status).toBe(422);
    expect(await redis.hlen(redisKeys.examplesPending(prefix))).toBe(before);
  });
});
