import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { writeGoldenSet } from '@reputation-monitor/app-harness';
import { FeedbackRecord, SENTIMENT_LABELS, SentimentLabel, redisKeys } from '@reputation-monitor/contracts';
import { REDIS_URL, SHARED_DATA, WORKSPACE_ROOT } from './support/paths';
import { E2E_ADMIN_KEY, adminAuth, freePort, startWorker, stopAll, waitFor } from './support/apps';
import { connectRedis, deletePrefix, uniquePrefix } from './support/redis';
import { getJson, postJson, request } from './support/http';
import { FakeGitHub, startFakeGitHub } from './support/fake-github';

const DRIFT_MAIN = join(WORKSPACE_ROOT, 'dist/apps/drift-monitor/main.js');
const prefix = uniquePrefix('drift');
const MODEL_VERSION = 'e2e-tiny-1';
const API_KEY = 'drift-e2e-key-0123456789';
const GITHUB_TOKEN = 'ghs_e2e_not_a_real_token';
const SCHEDULE = '0 0 1 1 *'; // once a year: registered, never fires during the test
const GOLDEN_LINES = 50;
const PER_WINDOW = 300;
const MIN = 60_000;
const auth = { 'x-api-key': API_KEY };

/** Seeded, so every run of the suite writes the same windows. */
function seededRandom(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 48_271) % 2_147_483_647) / 2_147_483_647;
}

/** XADDs one minute of predictions in the worker's field format, with explicit (increasing) stream ids. */
function addWindow(redis: Redis, start: number, kind: 'clean' | 'shifted', seed: number) {
  const random = seededRandom(seed);
  const pipeline = redis.pipeline();
  for (let i = 0; i < PER_WINDOW; i++) {
    const at = start + Math.floor((i * MIN) / PER_WINDOW);
    // Clean: an even label mix, middling confidence, short tweets. Shifted: mostly negative, confident, long.
    const label: SentimentLabel =
      kind === 'clean'
        ? SENTIMENT_LABELS[Math.floor(random() * 3)]
        : random() < 0.85
          ? 'negative'
          : 'positive';
    const top = kind === 'clean' ? 0.4 + random() * 0.5 : 0.9 + random() * 0.09;
    const rest = (1 - top) / 2;
    const scores: Record<SentimentLabel, number> = { negative: rest, neutral: rest, positive: rest };
    scores[label] = top;
    const tokens = kind === 'clean' ? 10 + Math.floor(random() * 30) : 40 + Math.floor(random() * 30);
    pipeline.xadd(
      redisKeys.predictionStream(prefix),
      `${at}-0`,
      'id',
      `${kind}-${at}`,
      'label',
      label,
      'negative',
      scores.negative.toFixed(6),
      'neutral',
      scores.neutral.toFixed(6),
      'positive',
      scores.positive.toFixed(6),
      'tokens',
      tokens,
      'truncated',
      0,
      'model',
      'synthetic-tiny',
      'version',
      MODEL_VERSION,
      'source',
      'twitter',
      'at',
      at,
    );
  }
  return pipeline.exec();
}

/** Feedback labels as the gateway stores them: one record per id plus the time index. */
function addFeedback(redis: Redis, records: FeedbackRecord[]) {
  const pipeline = redis.pipeline();
  for (const record of records) {
    pipeline.set(redisKeys.feedback(prefix, record.id), JSON.stringify(record));
    pipeline.zadd(redisKeys.feedbackByTime(prefix), record.at, record.id);
  }
  return pipeline.exec();
}

let redis: Redis;
let github: FakeGitHub;
let monitor: { url: string; child: ChildProcess; logs: () => string };
let tmp: string;
let env: Record<string, string>;
/** Ends of four consecutive one-minute windows: clean, clean, shifted, shifted. */
let ends: number[];
const reports: any[] = [];

function launchMonitor(args: string[], extraEnv: Record<string, string> = {}) {
  const child = spawn(process.execPath, [DRIFT_MAIN, ...args], {
    env: { PATH: process.env.PATH, NO_COLOR: '1', ...env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let output = '';
  child.stdout?.on('data', (chunk) => ((stdout += chunk), (output += chunk)));
  child.stderr?.on('data', (chunk) => (output += chunk));
  return { child, stdout: () => stdout, logs: () => output };
}

async function run(body: unknown): Promise<any> {
  const response = await postJson(`${monitor.url}/v1/runs`, body, adminAuth);
  if (response.status !== 200)
    throw new Error(`POST /v1/runs: ${response.status} ${JSON.stringify(response.body)}`);
  reports.push(response.body);
  return response.body;
}

beforeAll(async () => {
  if (!existsSync(DRIFT_MAIN)) throw new Error(`${DRIFT_MAIN} is missing: npx nx run-many -t build`);
  redis = connectRedis();
  tmp = mkdtempSync(join(tmpdir(), 'drift-e2e-'));
  // The golden set: the first 50 TweetEval validation tweets with their labels, as JSONL.
  writeGoldenSet(join(tmp, 'golden.jsonl'), { sharedData: SHARED_DATA, split: 'val', count: GOLDEN_LINES });

  github = await startFakeGitHub();
  await startWorker({ QUEUE_PREFIX: prefix, MODEL_VERSION }); // stopped by stopAll()

  // The stream first: explicit ids must be above every id already in it, and the worker appends at "now".
  const t0 = Date.now() - 5_000;
  ends = [t0 - 3 * MIN, t0 - 2 * MIN, t0 - MIN, t0];
  await addWindow(redis, ends[0] - MIN, 'clean', 11);
  await addWindow(redis, ends[1] - MIN, 'clean', 22);
  await addWindow(redis, ends[2] - MIN, 'shifted', 33);
  await addWindow(redis, ends[3] - MIN, 'shifted', 44);
  // Feedback labelled during the second clean window: 30 of this version (24 right), 2 of another version;
  // and 5 labelled before any window, which no run may count.
  const feedback = (i: number, at: number, right: boolean, modelVersion = MODEL_VERSION): FeedbackRecord => {
    const label = SENTIMENT_LABELS[i % 3];
    return {
      id: `fb-${i}`,
      label,
      predicted: right ? label : SENTIMENT_LABELS[(i + 1) % 3],
      modelVersion,
      predictedAt: at - 1_000,
      at,
    };
  };
  await addFeedback(redis, [
    ...Array.from({ length: 30 }, (_, i) => feedback(i, ends[1] - MIN + 1_000 + i * 100, i >= 6)),
    feedback(30, ends[1] - 10_000, true, 'other-version'),
    feedback(31, ends[1] - 9_000, true, 'other-version'),
    ...Array.from({ length: 5 }, (_, i) => feedback(40 + i, ends[0] - 2 * MIN, false)),
  ]);

  const port = await freePort();
  env = {
    REDIS_URL,
    DATASET_STORE: 'off',
    QUEUE_PREFIX: prefix,
    HOST: '127.0.0.1',
    PORT: String(port),
    SCHEDULE,
    WINDOW_MINUTES: '1',
    GOLDEN_SET_PATH: join(tmp, 'golden.jsonl'),
    GOLDEN_TIMEOUT_MS: '30000',
    GOLDEN_CHUNK_SIZE: '16',
    MIN_QUALITY_SAMPLES: '20',
    GITHUB_TOKEN,
    GITHUB_REPOSITORY: 'acme/sentiment-models',
    GITHUB_API_URL: github.url,
    API_KEYS: API_KEY,
    ADMIN_API_KEYS: E2E_ADMIN_KEY,
  };
  const launched = launchMonitor([]);
  monitor = { url: `http://127.0.0.1:${port}`, child: launched.child, logs: launched.logs };
  await waitFor(
    async () => {
      if (launched.child.exitCode !== null) throw new Error(`drift monitor exited:\n${launched.logs()}`);
      return (await fetch(`${monitor.url}/health/ready`)).ok ? true : undefined;
    },
    30_000,
    'the drift monitor',
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n--- drift monitor output ---\n${launched.logs()}`);
  });
}, 90_000);

afterAll(async () => {
  if (monitor && monitor.child.exitCode === null) {
    const exited = new Promise((resolve) => monitor.child.once('exit', resolve));
    monitor.child.kill('SIGTERM');
    await exited;
  }
  await stopAll();
  await github?.close();
  if (redis) {
    await deletePrefix(redis, prefix);
    redis.disconnect();
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const iso = (ms: number) => new Date(ms).toISOString();

describe('drift monitor against a real worker, Redis and a fake GitHub', () => {
  it('builds the reference from the first clean window, measures the golden set through the queue, and does not dispatch', async () => {
    const report = await run({ windowEnd: iso(ends[0]) });
    expect(report).toMatchObject({
      triggeredBy: 'manual',
      outcome: 'success',
      window: { start: iso(ends[0] - MIN), end: iso(ends[0]), minutes: 1 },
      model: { version: MODEL_VERSION, name: 'synthetic-tiny' },
      samples: { entries: PER_WINDOW, evaluated: PER_WINDOW, golden: 0, malformed: 0 },
      reference: { status: 'created', source: 'window', count: PER_WINDOW, createdBy: report.id },
      drift: { status: 'reference_created', drifted: false },
      quality: {
        golden: { status: 'measured', modelVersion: MODEL_VERSION, count: GOLDEN_LINES },
        feedback: { status: 'no_samples', count: 0 },
      },
      baseline: { source: 'created', count: GOLDEN_LINES, createdBy: report.id },
      decision: { retrain: false, rule: 'none' },
      retrain: { requested: false },
    });
    expect(report.quality.golden.accuracy).toBeGreaterThanOrEqual(0);
    expect(report.quality.golden.confusion.flat().reduce((a: number, b: number) => a + b, 0)).toBe(
      GOLDEN_LINES,
    );
    expect(report.baseline.macroRecall).toBe(report.quality.golden.macroRecall);
    expect(github.requests).toHaveLength(0);
    // The golden set went through the real queue: the worker appended its predictions to the stream.
    const stream = await redis.xrange(redisKeys.predictionStream(prefix), '-', '+');
    const golden = stream.filter(([, fields]) => fields[fields.indexOf('source') + 1] === 'drift-golden');
    expect(golden).toHaveLength(GOLDEN_LINES);
    expect(golden[0][1][golden[0][1].indexOf('version') + 1]).toBe(MODEL_VERSION);
  });

  it('compares the next clean window with the stored reference, scores its feedback, and does not dispatch', async () => {
    const first = reports[0];
    const report = await run({ windowEnd: iso(ends[1]) });
    expect(report).toMatchObject({
      outcome: 'success',
      reference: { status: 'stored', createdBy: first.id },
      drift: { status: 'evaluated', drifted: false, insufficient: false, windowCount: PER_WINDOW },
      baseline: { source: 'stored', createdBy: first.id, macroRecall: first.baseline.macroRecall },
      quality: {
        feedback: {
          status: 'measured',
          modelVersion: MODEL_VERSION,
          count: 30,
          accuracy: 0.8,
          ignored: { otherVersions: 2, unreadable: 0 },
        },
        golden: { status: 'measured', count: GOLDEN_LINES },
      },
      decision: { retrain: false, rule: 'none', numbers: { driftStreak: 0 } },
    });
    expect(Object.keys(report.drift.statistics)).toEqual([
      'labelMix',
      'confidence',
      'entropy',
      'tokens',
      'truncation',
    ]);
    expect(report.drift.statistics.labelMix.pValue).toBeGreaterThan(
      report.drift.statistics.labelMix.pThreshold,
    );
    // Both quality sources were judged against the baseline (enough labels) and held.
    expect(
      report.decision.details.filter((line: string) => / is within 0.05 of baseline /.test(line)),
    ).toHaveLength(2);
    expect(github.requests).toHaveLength(0);
  });

  it('reports drift in one shifted window without dispatching', async () => {
    const report = await run({ windowEnd: iso(ends[2]) });
    expect(report.drift).toMatchObject({ status: 'evaluated', drifted: true });
    expect(report.drift.reasons.join('\n')).toMatch(/label mix: JS distance/);
    expect(report.drift.statistics.labelMix.window.negative).toBeGreaterThan(0.7);
    expect(report.decision).toMatchObject({
      retrain: false,
      numbers: { driftStreak: 1, consecutiveWindows: 2 },
    });
    expect(report.retrain).toEqual({ requested: false });
    expect(github.requests).toHaveLength(0);
  });

  it('dispatches exactly one retraining request to GitHub when the next window drifts too', async () => {
    const report = await run({ windowEnd: iso(ends[3]) });
    expect(report.decision).toMatchObject({
      retrain: true,
      rule: 'drift-confirmed',
      source: 'drift',
      numbers: { driftStreak: 2 },
    });
    expect(report.decision.numbers.windows.map((w: any) => [w.windowEnd, w.drifted])).toEqual([
      [iso(ends[0]), false],
      [iso(ends[1]), false],
      [iso(ends[2]), true],
      [iso(ends[3]), true],
    ]);
    expect(report.retrain).toMatchObject({
      requested: true,
      outcome: 'dispatched',
      status: 204,
      attempts: 1,
    });
    expect(github.requests).toHaveLength(1);
    const [dispatch] = github.requests;
    expect(dispatch.method).toBe('POST');
    expect(dispatch.path).toBe('/repos/acme/sentiment-models/dispatches');
    expect(dispatch.headers.authorization).toContain(GITHUB_TOKEN);
    expect(dispatch.body).toMatchObject({
      event_type: 'retrain-model',
      client_payload: {
        reportId: report.id,
        modelVersion: MODEL_VERSION,
        reasons: expect.arrayContaining(['drift in 2 consecutive windows (2 confirm it)']),
        metrics: expect.objectContaining({ drift_streak: 2, window_samples: PER_WINDOW }),
      },
    });
    expect(dispatch.body.client_payload.metrics.drift_labelMix).toBeGreaterThan(0.1);
  });

  it('dedupes a further drifted run: still one dispatch', async () => {
    const report = await run({ windowEnd: iso(ends[3]) });
    expect(report.decision.rule).toBe('drift-confirmed');
    expect(report.retrain).toMatchObject({ requested: true, outcome: 'deduped' });
    expect(Date.parse(report.retrain.cooldownUntil)).toBeGreaterThan(Date.now());
    expect(github.requests).toHaveLength(1);
  });

  it("keeps the golden set's own predictions out of a window ending now", async () => {
    const report = await run({});
    expect(Date.parse(report.window.end)).toBeGreaterThan(ends[3]);
    expect(report.samples.golden).toBeGreaterThanOrEqual(5 * GOLDEN_LINES);
    expect(report.samples.byVersion[MODEL_VERSION] ?? 0).toBe(report.samples.evaluated);
    expect(github.requests).toHaveLength(1);
  });

  it('serves the reports: latest, newest first with a limit, by id; 404 for unknown ids', async () => {
    const latest = await getJson(`${monitor.url}/v1/reports/latest`, auth);
    expect(latest.status).toBe(200);
    expect(latest.body).toEqual(reports[reports.length - 1]);

    const listed = await getJson(`${monitor.url}/v1/reports?limit=3`, auth);
    expect(listed.status).toBe(200);
    expect(listed.body.reports.map((r: any) => r.id)).toEqual(
      reports
        .slice(-3)
        .reverse()
        .map((r) => r.id),
    );

    const byId = await getJson(`${monitor.url}/v1/reports/${reports[3].id}`, auth);
    expect(byId.status).toBe(200);
    expect(byId.body.retrain.outcome).toBe('dispatched');

    const unknown = await getJson(`${monitor.url}/v1/reports/20200101T000000000Z-abcdef`, auth);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toContain('application/problem+json');
    expect(unknown.body).toMatchObject({ status: 404, code: 'not_found' });
  });

  it('answers bad input with problem+json 4xx and requires an API key on /v1 only', async () => {
    const badLimit = await getJson(`${monitor.url}/v1/reports?limit=0`, auth);
    expect(badLimit.status).toBe(422);
    expect(badLimit.body.errors).toEqual([{ field: 'limit', message: expect.stringContaining('1..100') }]);

    const badRun = await postJson(`${monitor.url}/v1/runs`, { windowEnd: 'yesterday', extra: 1 }, adminAuth);
    expect(badRun.status).toBe(422);
    expect(badRun.headers.get('content-type')).toContain('application/problem+json');
    expect(badRun.body.errors.map((e: any) => e.field).sort()).toEqual(['extra', 'windowEnd']);

    const malformed = await postJson(`${monitor.url}/v1/runs`, '{"windowEnd":', auth);
    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe('malformed_json');

    const notJson = await request(`${monitor.url}/v1/runs`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', ...auth },
      body: 'run please',
    });
    expect(notJson.status).toBe(415);

    const noKey = await getJson(`${monitor.url}/v1/reports/latest`);
    expect(noKey.status).toBe(401);
    expect(noKey.body.code).toBe('unauthorized');
    const wrongKey = await postJson(
      `${monitor.url}/v1/runs`,
      {},
      { authorization: 'Bearer not-the-key-at-all' },
    );
    expect(wrongKey.status).toBe(401);
    // No body at all is the run of the window ending now (curl -X POST with a key and nothing else).
    const bodyless = await request(`${monitor.url}/v1/runs`, { method: 'POST', headers: adminAuth });
    expect(bodyless.status).toBe(200);
    reports.push(bodyless.body);
    // A client key reads reports but cannot start a run (a run may dispatch a retrain).
    const clientRun = await postJson(`${monitor.url}/v1/runs`, {}, auth);
    expect(clientRun.status).toBe(403);
    expect(clientRun.body).toMatchObject({ code: 'forbidden', detail: 'this route needs an admin key' });

    expect((await getJson(`${monitor.url}/health/live`)).status).toBe(200);
    const ready = await getJson(`${monitor.url}/health/ready`);
    expect(ready.body).toMatchObject({
      status: 'ok',
      info: { redis: { status: 'up' }, auth: { status: 'up', mode: 'api-keys' } },
    });
  });

  it('shows the runs, statistics, quality and triggers on /metrics', async () => {
    const response = await request(`${monitor.url}/metrics`, {});
    expect(response.status).toBe(200);
    const text = String(response.body);
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(series + ' '));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    expect(value('drift_monitor_runs_total{outcome="success",app="drift-monitor"}')).toBe(reports.length);
    expect(value('drift_monitor_runs_total{outcome="failed",app="drift-monitor"}')).toBe(0);
    expect(value('drift_monitor_retrain_triggers_total{outcome="dispatched",app="drift-monitor"}')).toBe(1);
    expect(
      value('drift_monitor_retrain_triggers_total{outcome="deduped",app="drift-monitor"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(value('drift_monitor_retrain_triggers_total{outcome="failed",app="drift-monitor"}')).toBe(0);
    const lastSuccess = value('drift_monitor_last_success_timestamp_seconds{app="drift-monitor"}') as number;
    expect(lastSuccess * 1000).toBeGreaterThanOrEqual(Date.parse(reports[reports.length - 1].createdAt));
    const latest = reports[reports.length - 1];
    expect(
      value(
        `drift_monitor_quality{model_version="${MODEL_VERSION}",source="golden",metric="macro_recall",app="drift-monitor"}`,
      ),
    ).toBeCloseTo(latest.quality.golden.macroRecall, 10);
    expect(
      value(
        `drift_monitor_quality_samples{model_version="${MODEL_VERSION}",source="golden",app="drift-monitor"}`,
      ),
    ).toBe(GOLDEN_LINES);
    expect(text).toMatch(
      new RegExp(
        `drift_monitor_window_samples\\{model_version="${MODEL_VERSION}",app="drift-monitor"\\} ${latest.samples.evaluated}\\n`,
      ),
    );
    if (latest.drift.status === 'evaluated' && !latest.drift.insufficient) {
      expect(text).toMatch(
        new RegExp(
          `drift_monitor_drift_statistic\\{model_version="${MODEL_VERSION}",statistic="labelMix",app="drift-monitor"\\} `,
        ),
      );
    }
  });

  it('registers one BullMQ job scheduler for the configured cron expression', async () => {
    const connection = connectRedis();
    const queue = new Queue('drift-evaluations', { connection, prefix });
    try {
      const schedulers = await queue.getJobSchedulers();
      expect(schedulers).toHaveLength(1);
      expect(schedulers[0]).toMatchObject({ key: 'drift-window', pattern: SCHEDULE });
    } finally {
      await queue.close();
      connection.disconnect();
    }
  });

  it('`main.js --run-once` prints one report as JSON and stores it', async () => {
    const once = launchMonitor(['--run-once'], { PORT: '0' });
    const code = await new Promise<number | null>((resolve) => once.child.once('exit', resolve));
    expect({ code, logs: code === 0 ? '' : once.logs() }).toEqual({ code: 0, logs: '' });
    const report = JSON.parse(once.stdout());
    expect(report).toMatchObject({ triggeredBy: 'cli', model: { version: MODEL_VERSION } });
    expect(report.quality.golden.count).toBe(GOLDEN_LINES);
    const stored = await getJson(`${monitor.url}/v1/reports/${report.id}`, auth);
    expect(stored.body.id).toBe(report.id);
    expect(github.requests).toHaveLength(1);
  });

  it('shuts down cleanly on SIGTERM (exit 0)', async () => {
    const exited = new Promise<number | null>((resolve) => monitor.child.once('exit', resolve));
    monitor.child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
