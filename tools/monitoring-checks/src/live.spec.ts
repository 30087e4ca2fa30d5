import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import IORedis from 'ioredis';
import {
  AppProcess,
  deletePrefix,
  startDriftMonitor,
  startGateway,
  startWorker,
  stopAll,
  writeGoldenSet,
} from '@reputation-monitor/app-harness';
import {
  FeedbackRecord,
  StreamPrediction,
  parseStreamEntry,
  predictionStreamFields,
  redisKeys,
} from '@reputation-monitor/contracts';
import { FeedbackStore } from '@reputation-monitor/prediction-store';
import { NamedQuery, RULES_DIR, ROOT, alertQueries, dashboardQueries } from './monitoring-files';
import {
  RunningExporter,
  RunningPrometheus,
  startPrometheus,
  startRedisExporter,
} from './prometheus-process';

// The verification run: the built apps, the Redis exporter compose runs (job redis) and a real Prometheus on
// loopback, a short bounded load, then every dashboard panel query and every alert query evaluated through
// Prometheus' HTTP API. A panel that points at a metric nobody exports returns nothing and fails here.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const MODEL_DIR = join(ROOT, 'tmp/models/synthetic-tiny');
const SHARED_DATA = join(ROOT, '../shared/data');
const prefix = `test-monitoring-${process.pid}-${Date.now().toString(36)}`;
// Runs are an admin route of the drift monitor.
const ADMIN_KEY = 'monitoring-checks-admin-key-0123456789';
let prometheus: RunningPrometheus;
let redisExporter: RunningExporter;
let gateway: AppProcess;
let tmp: string;

beforeAll(async () => {
  execFileSync(join(ROOT, 'node_modules/.bin/tsx'), [
    join(ROOT, 'tools/synthetic-model/src/cli.ts'),
    '--preset',
    'tiny',
    '--out',
    MODEL_DIR,
  ]);
  const options = { workspaceRoot: ROOT, redisUrl: REDIS_URL };
  const worker = await startWorker({
    ...options,
    env: { QUEUE_PREFIX: prefix, MODEL_DIR, INTRA_OP_THREADS: '1', METRIC_SOURCES: 'twitter,news' },
  });
  gateway = await startGateway({ ...options, env: { QUEUE_PREFIX: prefix } });
  tmp = mkdtempSync(join(tmpdir(), 'monitoring-checks-'));
  const driftMonitor = await startDriftMonitor({
    ...options,
    env: {
      QUEUE_PREFIX: prefix,
      SCHEDULE: 'off',
      GOLDEN_SET_PATH: writeGoldenSet(join(tmp, 'golden.jsonl'), {
        sharedData: SHARED_DATA,
        split: 'val',
        count: 30,
      }),
      MIN_WINDOW_SAMPLES: '20',
      MIN_REFERENCE_SAMPLES: '20',
      MIN_QUALITY_SAMPLES: '10',
      DATASET_STORE: 'off',
      ADMIN_API_KEYS: ADMIN_KEY,
    },
  });
  redisExporter = await startRedisExporter(REDIS_URL);
  prometheus = await startPrometheus(
    {
      gateway: new URL(gateway.url).host,
      'inference-worker': new URL(worker.url).host,
      'drift-monitor': new URL(driftMonitor.url).host,
      redis: redisExporter.host,
    },
    join(RULES_DIR, '*.yml'),
  );
  await sendLoad(gateway.url);
  // Two evaluations of the window the load filled: the first makes it the model version's reference, the
  // second compares it with that reference (statistics, no drift); both score the golden set through the queue.
  // Before the second, a candidate in shadow mode scores the load's texts, so the candidate panels have data.
  const runDrift = async () => {
    const response = await fetch(`${driftMonitor.url}/v1/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': ADMIN_KEY },
      body: '{}',
    });
    if (!response.ok) throw new Error(`POST /v1/runs: ${response.status} ${await response.text()}`);
  };
  await runDrift();
  await shadowCandidate();
  await runDrift();
  // Several scrapes after the load, so rates over the last minute have at least two samples.
  await new Promise((resolve) => setTimeout(resolve, 6_000));
});

afterAll(async () => {
  await prometheus?.stop();
  await redisExporter?.stop();
  await stopAll();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  const redis = new IORedis(REDIS_URL);
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

/**
 * A candidate in shadow mode, as the workers record one: for every prediction the load got, a shadow
 * prediction of the same id by another version (here the same labels, so it agrees and is not worse, and no
 * alert fires), and a feedback label for each (what production said), so the pairs have quality figures.
 * Written to Redis directly: the check needs the drift monitor's candidate metrics, not a second model.
 */
async function shadowCandidate(): Promise<void> {
  const redis = new IORedis(REDIS_URL);
  try {
    const stream = redisKeys.predictionStream(prefix);
    const answered = (await redis.xrange(stream, '-', '+'))
      .map(parseStreamEntry)
      .filter((p): p is StreamPrediction => p?.role === 'production' && p.source !== 'drift-golden');
    if (answered.length < 20) throw new Error(`only ${answered.length} predictions in the stream`);
    const now = Date.now();
    const pipeline = redis.pipeline();
    for (const p of answered) {
      const model = { name: p.model, version: 'live-check-candidate' };
      pipeline.xadd(stream, '*', ...predictionStreamFields(p, model, p.source, now, 'shadow'));
    }
    await pipeline.exec();
    const labels = answered.map((p): FeedbackRecord => ({
      id: p.id,
      label: p.label,
      predicted: p.label,
      modelVersion: p.version,
      predictedAt: p.streamAt,
      at: now,
    }));
    await new FeedbackStore(redis, prefix).save(labels, 3_600);
  } finally {
    redis.disconnect();
  }
}

/** A bounded mix: single and batch requests from several sources, an async one, some bad input. */
async function sendLoad(url: string): Promise<void> {
  const post = (path: string, body: unknown) =>
    fetch(url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const sources = ['twitter', 'news', 'blog'];
  for (let round = 0; round < 4; round++) {
    await Promise.all(
      Array.from({ length: 15 }, (_, i) =>
        post('/v1/sentiment', {
          text: `round ${round} text ${i}: love it, hate it, meh`,
          source: sources[i % 3],
        }),
      ),
    );
    await post('/v1/sentiment/batch', {
      items: Array.from({ length: 8 }, (_, i) => ({ text: `batch ${round} item ${i}` })),
      source: 'twitter',
    });
    await post('/v1/sentiment', { text: '' });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  const accepted = (await (
    await post('/v1/sentiment?wait=false', { text: 'async one', source: 'news' })
  ).json()) as { statusUrl: string };
  for (let i = 0; i < 50; i++) {
    const job = (await (await fetch(url + accepted.statusUrl)).json()) as { status: string };
    if (job.status === 'completed') break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function evaluate(queries: NamedQuery[]): Promise<string[]> {
  const failures: string[] = [];
  for (const { source, expr } of queries) {
    const answer = await prometheus.query(expr);
    if (answer.status !== 'success') failures.push(`${source}: error ${answer.error} in ${expr}`);
    else if (answer.result.length === 0) failures.push(`${source}: no data for ${expr}`);
  }
  return failures;
}

it('every dashboard panel query returns data', async () => {
  const { queries } = dashboardQueries();
  expect(await evaluate(queries)).toEqual([]);
});

it('every alert query returns data, and no alert fires on a healthy stack', async () => {
  const { queries } = alertQueries();
  expect(await evaluate(queries)).toEqual([]);
  const alerts = await prometheus.query('ALERTS{alertstate="firing"}');
  expect(alerts.result).toEqual([]);
});

it('the check itself fails for a metric that does not exist', async () => {
  const failures = await evaluate([
    { source: 'made-up panel', expr: 'sum(rate(sentiment_no_such_metric_total[1m]))' },
  ]);
  expect(failures).toEqual(['made-up panel: no data for sum(rate(sentiment_no_such_metric_total[1m]))']);
});
