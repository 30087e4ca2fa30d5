import { AppProcess, startGateway, startWorker, stopAll, waitFor } from './support/apps';
import { getJson, postJson } from './support/http';
import { OtlpReceiver, ReceivedSpan } from './support/otlp-receiver';
import { connectRedis, deletePrefix, uniquePrefix } from './support/redis';

const API_KEY = 'observability-key-0123456789';
const auth = { authorization: `Bearer ${API_KEY}` };
const receiver = new OtlpReceiver();
const redis = connectRedis();
const prefixes: string[] = [];
let tracing: Record<string, string>;
let gateway: AppProcess;
let worker: AppProcess;

function freshPrefix(name: string): string {
  const prefix = uniquePrefix(name);
  prefixes.push(prefix);
  return prefix;
}

beforeAll(async () => {
  const endpoint = await receiver.start();
  // OTLP/HTTP with JSON bodies, flushed every 100 ms, to a collector on loopback.
  tracing = {
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '100',
    LOG_FORMAT: 'json',
  };
  const prefix = freshPrefix('traces');
  worker = await startWorker({ QUEUE_PREFIX: prefix, ...tracing });
  gateway = await startGateway({
    QUEUE_PREFIX: prefix,
    API_KEYS: API_KEY,
    SYNC_TIMEOUT_MS: '20000',
    ...tracing,
  });
});

afterAll(async () => {
  await stopAll();
  await receiver.stop();
  for (const prefix of prefixes) await deletePrefix(redis, prefix);
  redis.disconnect();
});

/** The trace of the request with this id, once the worker's spans for it have arrived. */
async function traceOf(requestId: string): Promise<ReceivedSpan[]> {
  return waitFor(
    async () => {
      const server = receiver.spans.find((span) => span.attributes['request.id'] === requestId);
      if (!server) return undefined;
      const spans = receiver.trace(server.traceId);
      return spans.some((span) => span.service === 'inference-worker' && span.name === 'score texts')
        ? spans
        : undefined;
    },
    15_000,
    `the spans of request ${requestId}`,
  );
}

/** Every span but the root has its parent in the same trace: one connected tree across the processes. */
function expectConnected(spans: ReceivedSpan[]): void {
  const ids = new Set(spans.map((span) => span.spanId));
  const roots = spans.filter((span) => !span.parentSpanId || !ids.has(span.parentSpanId));
  expect(roots).toHaveLength(1);
  expect(roots[0].service).toBe('gateway');
}

function expectBatchLinks(spans: ReceivedSpan[]): ReceivedSpan {
  const scored = spans.find((span) => span.name === 'score texts')!;
  expect(scored.links).toHaveLength(1);
  const batch = receiver.spans.find((span) => span.spanId === scored.links[0].spanId)!;
  expect(batch).toMatchObject({ service: 'inference-worker', name: 'inference batch' });
  // The batch is a trace of its own, linked back to the job it served.
  expect(batch.traceId).not.toBe(scored.traceId);
  expect(batch.links).toContainEqual({ traceId: scored.traceId, spanId: scored.spanId });
  return batch;
}

describe('one trace per request, across the gateway, the queue and the worker', () => {
  it('for a single text: HTTP request -> enqueue -> the worker job -> its scores, linked to the batch', async () => {
    const answer = await postJson(
      `${gateway.url}/v1/sentiment`,
      { text: 'trace me through the queue' },
      { ...auth, 'x-request-id': 'trace-single-1' },
    );
    expect(answer.status).toBe(200);
    expect(answer.headers.get('x-request-id')).toBe('trace-single-1');
    const spans = await traceOf('trace-single-1');
    expectConnected(spans);
    const services = new Set(spans.map((span) => span.service));
    expect(services).toEqual(new Set(['gateway', 'inference-worker']));
    // The worker's job span is a child of the gateway's enqueue span (bullmq-otel carried the context).
    const job = spans.find(
      (span) =>
        span.service === 'inference-worker' &&
        span.parentSpanId !== undefined &&
        spans.find((parent) => parent.spanId === span.parentSpanId)?.service === 'gateway',
    )!;
    expect(job).toBeDefined();
    expect(expectBatchLinks(spans).attributes['sentiment.batch.texts']).toBeGreaterThanOrEqual(1);
  });

  it("puts the trace ids on the gateway's and the worker's latency buckets as exemplars (OpenMetrics)", async () => {
    const metrics = await fetch(`${gateway.url}/metrics`);
    expect(metrics.headers.get('content-type')).toMatch(/application\/openmetrics-text/);
    const text = await metrics.text();
    const spans = await traceOf('trace-single-1');
    const exemplar = new RegExp(
      `^sentiment_request_latency_seconds_bucket\\{[^}]*mode="sync"[^}]*\\} \\d+ # \\{trace_id="([0-9a-f]{32})"\\}`,
      'm',
    );
    const traceIds = [...text.matchAll(new RegExp(exemplar.source, 'gm'))].map((match) => match[1]);
    expect(traceIds.length).toBeGreaterThan(0);
    // Every exemplar names a trace the collector received from the gateway.
    for (const traceId of traceIds)
      expect(receiver.spans.some((span) => span.traceId === traceId && span.service === 'gateway')).toBe(
        true,
      );
    expect(spans.length).toBeGreaterThan(0);
    // The worker's queue wait too, with the trace of the job that waited.
    const workerMetrics = await (await fetch(`${worker.url}/metrics`)).text();
    const waited = [
      ...workerMetrics.matchAll(
        /^sentiment_queue_wait_seconds_bucket\{[^}]*\} \d+ # \{trace_id="([0-9a-f]{32})"\}/gm,
      ),
    ].map((match) => match[1]);
    expect(waited.length).toBeGreaterThan(0);
    for (const traceId of waited) expect(receiver.spans.some((span) => span.traceId === traceId)).toBe(true);
  });

  it('for a batch of texts, the same shape', async () => {
    const answer = await postJson(
      `${gateway.url}/v1/sentiment/batch`,
      { items: [{ text: 'first of three' }, { text: 'second of three' }, { text: 'third of three' }] },
      { ...auth, 'x-request-id': 'trace-batch-1' },
    );
    expect(answer.status).toBe(200);
    const spans = await traceOf('trace-batch-1');
    expectConnected(spans);
    expect(spans.find((span) => span.name === 'score texts')?.attributes['sentiment.texts']).toBe(3);
    expectBatchLinks(spans);
  });

  it('keeps the trace id when a job is retried by another worker after its first worker was killed', async () => {
    const prefix = freshPrefix('traces-retry');
    const doomed = await startWorker({
      QUEUE_PREFIX: prefix,
      BATCH_MAX_WAIT_MS: '60000',
      LOCK_DURATION_MS: '1500',
      STALLED_INTERVAL_MS: '500',
      ...tracing,
    });
    const front = await startGateway({ QUEUE_PREFIX: prefix, API_KEYS: API_KEY, ...tracing });
    const accepted = await postJson(
      `${front.url}/v1/sentiment?wait=false`,
      { text: 'outlive my first worker' },
      { ...auth, 'x-request-id': 'trace-retry-1' },
    );
    expect(accepted.status).toBe(202);
    const statusUrl = `${front.url}/v1/jobs/${accepted.body.jobId}`;
    await waitFor(
      async () => ((await getJson(statusUrl, auth)).body.status === 'active' ? true : undefined),
      20_000,
      'the job to be active',
    );
    await doomed.stop('SIGKILL');
    await startWorker({ QUEUE_PREFIX: prefix, STALLED_INTERVAL_MS: '500', ...tracing });
    await waitFor(
      async () => ((await getJson(statusUrl, auth)).body.status === 'completed' ? true : undefined),
      30_000,
      'the retried job to complete',
    );
    const spans = await traceOf('trace-retry-1');
    expectConnected(spans);
    expect(spans.some((span) => span.service === 'inference-worker' && span.name === 'score texts')).toBe(
      true,
    );
  });
});

describe('JSON logs', () => {
  it('find every line of a request in both processes by the id in the response header, never its text or key', async () => {
    const text = 'a text that must never be logged 7f3a';
    const answer = await postJson(`${gateway.url}/v1/sentiment`, { text }, auth);
    const requestId = answer.headers.get('x-request-id')!;
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    const linesOf = (app: AppProcess) =>
      app
        .logs()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((line) => line.requestId === requestId);
    const gatewayLines = await waitFor(
      async () => (linesOf(gateway).length > 0 ? linesOf(gateway) : undefined),
      5_000,
      'the gateway line',
    );
    expect(gatewayLines[0]).toMatchObject({ app: 'gateway', msg: 'POST /v1/sentiment 200' });
    expect(gatewayLines[0].trace_id).toMatch(/^[0-9a-f]{32}$/);
    const workerLines = linesOf(worker);
    expect(workerLines).toEqual([
      expect.objectContaining({ app: 'inference-worker', msg: 'job done', jobId: answer.body.id, texts: 1 }),
    ]);
    // A bad request's problem+json names its id too.
    const bad = await postJson(
      `${gateway.url}/v1/sentiment`,
      { text: '' },
      { ...auth, 'x-request-id': 'bad-1' },
    );
    expect(bad.body.requestId).toBe('bad-1');
    // An id that is not a sane token is replaced, not echoed.
    const odd = await postJson(
      `${gateway.url}/v1/sentiment`,
      { text: 'x' },
      { ...auth, 'x-request-id': 'a b<c>' },
    );
    expect(odd.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    for (const app of [gateway, worker]) {
      expect(app.logs()).not.toContain(text);
      expect(app.logs()).not.toContain(API_KEY);
    }
  });
});
