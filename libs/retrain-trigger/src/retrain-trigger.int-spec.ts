import { createServer } from 'node:net';
import IORedis from 'ioredis';
import { RetrainLogger, RetrainTrigger, RetrainTriggerOptions } from './retrain-trigger';
import { RetrainRequest } from './payload';
import { FakeGitHubApi } from './test/fake-github-api';

// Real Redis (a key prefix per run keeps runs apart, and the keys are deleted afterwards) and a fake GitHub
// API: a real HTTP server on 127.0.0.1 that Octokit talks to over the network like to api.github.com.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `test-retrain-${process.pid}-${Date.now().toString(36)}`;
const TOKEN = 'ghp_fakeTokenForTests0123456789abcdefABCD';
const WRONG_TOKEN = 'ghp_revokedToken9876543210zyxwvuZYXWVU';
const redis = new IORedis(REDIS_URL);
const replicaRedis = new IORedis(REDIS_URL);
let api: FakeGitHubApi;

/** Every line any trigger logged in this file (ours and Octokit's request log, at every level). */
const allLines: string[] = [];
let lines: Array<{ level: string; message: string }> = [];

function capturingLogger(): Required<RetrainLogger> {
  const at = (level: string) => (message: string) => {
    lines.push({ level, message });
    allLines.push(message);
  };
  return { log: at('log'), warn: at('warn'), error: at('error'), debug: at('debug') };
}

function trigger(overrides: Partial<RetrainTriggerOptions> = {}): RetrainTrigger {
  return new RetrainTrigger({
    token: TOKEN,
    owner: 'acme',
    repo: 'sentiment-models',
    baseUrl: api.origin,
    redis,
    keyPrefix: prefix,
    backoffMs: 5,
    requestTimeoutMs: 2_000,
    logger: capturingLogger(),
    ...overrides,
  });
}

const request: RetrainRequest = {
  reportId: 'drift-42',
  modelVersion: 'fp32-c28fb719eecb',
  reasons: ['label distribution shifted (PSI 0.31 > 0.2)', 'mean confidence fell by 0.12'],
  metrics: { psi_label: 0.31, mean_confidence_drop: 0.12 },
};

beforeAll(async () => {
  api = await FakeGitHubApi.start();
});

beforeEach(async () => {
  api.reset();
  api.token = TOKEN;
  lines = [];
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
});

afterAll(async () => {
  await api.close();
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  replicaRedis.disconnect();
});

it('sends the repository dispatch GitHub expects and keeps the cooldown', async () => {
  const retrain = trigger();
  const before = Date.now();
  const result = await retrain.trigger(request);

  expect(result).toEqual({
    outcome: 'dispatched',
    attempts: 1,
    status: 204,
    cooldownUntil: expect.any(Date),
  });
  expect(Number(result.cooldownUntil)).toBeGreaterThanOrEqual(before + 86_400_000);
  expect(api.requests).toHaveLength(1);
  const [sent] = api.requests;
  expect(sent.method).toBe('POST');
  expect(sent.path).toBe('/repos/acme/sentiment-models/dispatches');
  expect(sent.headers.authorization).toBe(`token ${TOKEN}`);
  expect(sent.headers.accept).toBe('application/vnd.github.v3+json');
  expect(sent.headers['content-type']).toBe('application/json; charset=utf-8');
  expect(sent.headers['x-github-api-version']).toBe('2022-11-28');
  expect(sent.headers['user-agent']).toMatch(/^reputation-monitor-retrain-trigger octokit-rest\.js/);
  expect(sent.json).toEqual({
    event_type: 'retrain-model',
    client_payload: {
      reportId: 'drift-42',
      modelVersion: 'fp32-c28fb719eecb',
      reasons: request.reasons,
      metrics: request.metrics,
      requestedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    },
  });
  expect(Buffer.byteLength(sent.body)).toBeLessThan(1_000);

  // The claim stays for the whole cooldown: the next call (same or another report) is deduped.
  const ttl = await redis.pttl(retrain.cooldownKey);
  expect(ttl).toBeGreaterThan(86_390_000);
  const again = await retrain.trigger({ ...request, reportId: 'drift-43' });
  expect(again).toEqual({ outcome: 'deduped', attempts: 0, cooldownUntil: expect.any(Date) });
  expect(Math.abs(Number(again.cooldownUntil) - Number(result.cooldownUntil))).toBeLessThan(1_000);
  expect(api.requests).toHaveLength(1);
  expect(lines.filter((line) => line.level === 'log').map((line) => line.message)).toEqual([
    expect.stringMatching(/report drift-42\): dispatched \(attempt 1, HTTP 204\)/),
    expect.stringMatching(/report drift-43\): deduped/),
  ]);
});

it('dispatches once when two replicas trigger at the same moment', async () => {
  api.delayMs = 150; // the first dispatch is still in flight when the other replica decides
  const replicaA = trigger();
  const replicaB = trigger({ redis: replicaRedis });
  const results = await Promise.all([
    replicaA.trigger(request),
    replicaB.trigger({ ...request, reportId: 'drift-42-b' }),
  ]);

  expect(results.map((result) => result.outcome).sort()).toEqual(['deduped', 'dispatched']);
  expect(api.requests).toHaveLength(1);
  const deduped = results.find((result) => result.outcome === 'deduped');
  expect(deduped?.attempts).toBe(0);
  expect(Number(deduped?.cooldownUntil)).toBeGreaterThan(Date.now() + 86_000_000);
});

it('dispatches again once the cooldown has passed', async () => {
  const retrain = trigger({ cooldownSeconds: 0.3 });
  expect((await retrain.trigger(request)).outcome).toBe('dispatched');
  expect((await retrain.trigger(request)).outcome).toBe('deduped');
  await new Promise((resolve) => setTimeout(resolve, 400));
  expect((await retrain.trigger(request)).outcome).toBe('dispatched');
  expect(api.requests).toHaveLength(2);
});

it('does not retry a wrong token (401), says what to check, and frees the cooldown for the fixed token', async () => {
  const result = await trigger({ token: WRONG_TOKEN }).trigger(request);

  expect(result).toEqual({
    outcome: 'failed',
    attempts: 1,
    status: 401,
    error: expect.stringContaining('GitHub answered 401: Bad credentials'),
  });
  expect(api.requests).toHaveLength(1);
  const errors = lines.filter((line) => line.level === 'error');
  expect(errors).toHaveLength(1);
  expect(errors[0].message).toMatch(/GitHub answered 401.*not retrying: check the GitHub token/);
  expect(lines.some((line) => line.level === 'warn')).toBe(false); // no "retrying" line
  expect(await redis.exists(trigger().cooldownKey)).toBe(0);

  expect(await trigger().trigger(request)).toMatchObject({ outcome: 'dispatched', attempts: 1 });
  expect(api.requests).toHaveLength(2);
});

it.each([
  [403, /"repo" scope/],
  [404, /repository name "acme\/sentiment-models"/],
  [422, /event type "retrain-model".*client_payload/],
])('does not retry %i, says what to check and frees the cooldown', async (status, hint) => {
  api.script(status);
  const result = await trigger().trigger(request);

  expect(result).toMatchObject({ outcome: 'failed', attempts: 1, status });
  expect(api.requests).toHaveLength(1);
  const errors = lines.filter((line) => line.level === 'error').map((line) => line.message);
  expect(errors).toEqual([expect.stringMatching(new RegExp(`GitHub answered ${status}.*not retrying: `))]);
  expect(errors[0]).toMatch(hint);
  expect(errors[0]).not.toContain('\n');

  expect(await trigger().trigger(request)).toMatchObject({ outcome: 'dispatched', attempts: 1 });
  expect(api.requests).toHaveLength(2);
});

it('retries a server error with backoff and then dispatches', async () => {
  api.script(500);
  const result = await trigger().trigger(request);

  expect(result).toMatchObject({ outcome: 'dispatched', attempts: 2, status: 204 });
  expect(api.requests).toHaveLength(2);
  expect(api.requests[1].body).toBe(api.requests[0].body); // the same event, not a new one
  expect(lines.filter((line) => line.level === 'warn').map((line) => line.message)).toEqual([
    expect.stringMatching(
      /attempt 1\/4 failed \(GitHub answered 500: scripted 500 - https:\/\/docs\.github\.com\/rest\); retrying in 5 ms/,
    ),
  ]);
});

it('retries a dropped connection and then dispatches', async () => {
  api.script('drop');
  const result = await trigger().trigger(request);

  expect(result).toMatchObject({ outcome: 'dispatched', attempts: 2, status: 204 });
  expect(api.requests).toHaveLength(2);
  expect(lines.find((line) => line.level === 'warn')?.message).toMatch(
    /attempt 1\/4 failed \(no answer from/,
  );
});

it('retries an attempt that times out and then dispatches', async () => {
  api.script('hang');
  const result = await trigger({ requestTimeoutMs: 300 }).trigger(request);

  expect(result).toMatchObject({ outcome: 'dispatched', attempts: 2, status: 204 });
  expect(api.requests).toHaveLength(2);
});

it('gives up after maxAttempts server errors and frees the cooldown', async () => {
  api.script(502, 503, 500);
  const result = await trigger({ maxAttempts: 3 }).trigger(request);

  expect(result).toMatchObject({ outcome: 'failed', attempts: 3, status: 500 });
  expect(api.requests).toHaveLength(3);
  expect(lines.filter((line) => line.level === 'warn')).toHaveLength(2);
  expect(lines.filter((line) => line.level === 'error').map((line) => line.message)).toEqual([
    expect.stringMatching(/failed after 3 attempts \(GitHub answered 500/),
  ]);
  expect(await redis.exists(trigger().cooldownKey)).toBe(0);
});

it('retries a refused connection, reports no status, and frees the cooldown', async () => {
  const closedPort = await freePort();
  const retrain = trigger({ baseUrl: `http://127.0.0.1:${closedPort}`, maxAttempts: 3 });
  const result = await retrain.trigger(request);

  expect(result).toEqual({
    outcome: 'failed',
    attempts: 3,
    error: expect.stringContaining('no answer from'),
  });
  expect(lines.filter((line) => line.level === 'warn')).toHaveLength(2);
  expect(await redis.exists(retrain.cooldownKey)).toBe(0);
});

it('only releases its own claim', async () => {
  // A claim that expired during a slow failing dispatch and was taken by another replica is not deleted.
  api.script('hang');
  const slow = trigger({ cooldownSeconds: 0.2, maxAttempts: 1, requestTimeoutMs: 500 });
  const pending = slow.trigger(request);
  await new Promise((resolve) => setTimeout(resolve, 300));
  await redis.set(slow.cooldownKey, 'another replica', 'PX', 60_000);
  expect(await pending).toMatchObject({ outcome: 'failed', attempts: 1 });
  expect(await redis.get(slow.cooldownKey)).toBe('another replica');
});

it('reports an unreachable Redis as failed without dispatching', async () => {
  const offline = new IORedis(REDIS_URL, { lazyConnect: true, enableOfflineQueue: false });
  try {
    const result = await trigger({ redis: offline }).trigger(request);
    expect(result).toMatchObject({ outcome: 'failed', attempts: 0 });
    expect(result.error).toMatch(/could not claim the cooldown in Redis/);
    expect(api.requests).toHaveLength(0);
  } finally {
    offline.disconnect();
  }
});

it('is a dry run without a token: logs the payload, sends nothing, claims nothing', async () => {
  const dry = trigger({ token: undefined });
  expect(dry.dryRun).toBe(true);
  const result = await dry.trigger(request);

  expect(result).toEqual({ outcome: 'dry_run', attempts: 0 });
  expect(api.requests).toHaveLength(0);
  const [line] = lines;
  expect(line.level).toBe('log');
  expect(line.message).toContain(
    `dry run, no GitHub token set; would POST ${api.origin}/repos/acme/sentiment-models/dispatches with {"event_type":"retrain-model","client_payload":{"reportId":"drift-42"`,
  );
  expect(await redis.exists(dry.cooldownKey)).toBe(0);
  expect((await trigger({ token: '  ' }).trigger(request)).outcome).toBe('dry_run');

  // Configuring a token later dispatches at once.
  expect((await trigger().trigger(request)).outcome).toBe('dispatched');
  expect(api.requests).toHaveLength(1);
});

it('talks to GitHub Enterprise Server under /api/v3', async () => {
  api.mount = '/api/v3';
  const result = await trigger({ baseUrl: `${api.origin}/api/v3/` }).trigger(request);

  expect(result).toMatchObject({ outcome: 'dispatched', attempts: 1 });
  expect(api.requests.map((sent) => `${sent.method} ${sent.path}`)).toEqual([
    'POST /api/v3/repos/acme/sentiment-models/dispatches',
  ]);
  expect(api.requests[0].headers.authorization).toBe(`token ${TOKEN}`);
});

it('keeps an oversized report within GitHub limits, which the API accepts', async () => {
  const big: RetrainRequest = {
    ...request,
    reasons: Array.from({ length: 3_000 }, (_, i) => `reason ${i}: `.padEnd(120, 'détail ')),
    metrics: Object.fromEntries(Array.from({ length: 3_000 }, (_, i) => [`feature_${i}_psi`, i / 3_000])),
  };
  const result = await trigger().trigger(big);

  expect(result.outcome).toBe('dispatched');
  const [sent] = api.requests;
  const { client_payload: payload } = sent.json as { client_payload: Record<string, unknown> };
  expect(Object.keys(payload).length).toBeLessThanOrEqual(10);
  expect(Buffer.byteLength(JSON.stringify(payload))).toBeLessThanOrEqual(64_000);
  expect(Buffer.byteLength(sent.body)).toBeLessThan(64_100);
  expect(payload.truncated).toEqual({
    reasons: { total: 3_000, kept: (payload.reasons as string[]).length },
    metrics: { total: 3_000, kept: Object.keys(payload.metrics as object).length },
    shortenedStrings: 0,
  });
  expect(lines.find((line) => line.level === 'warn')?.message).toMatch(
    /client_payload trimmed to GitHub's limits: \d+\/3000 reasons, \d+\/3000 metrics/,
  );
});

it('never logged a token, at any level, including Octokit request logs', () => {
  // Octokit's per-request log lines reached the debug level in the tests above.
  expect(
    allLines.some((line) => /^octokit: POST \/repos\/acme\/sentiment-models\/dispatches - 204/.test(line)),
  ).toBe(true);
  expect(allLines.some((line) => /^octokit: POST .* - 401/.test(line))).toBe(true);
  expect(allLines.length).toBeGreaterThan(20);
  for (const line of allLines) {
    expect(line).not.toContain(TOKEN);
    expect(line).not.toContain(WRONG_TOKEN);
    // Nothing even needed the redaction safety net: no line carried a token in the first place.
    expect(line).not.toContain('[REDACTED]');
  }
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
