import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import IORedis, { Redis } from 'ioredis';
import { RedisServer, readTweetEval } from '@reputation-monitor/app-harness';
import { LabelledExample, redisKeys } from '@reputation-monitor/contracts';
import { seededRandom } from '@reputation-monitor/drift-stats';
import { FakeHub } from '@reputation-monitor/fake-hub';
import { ExampleBuffer, exampleId } from '@reputation-monitor/prediction-store';
import {
  AppProcess,
  adminAuth,
  freePort,
  startDriftMonitor,
  startGateway,
  startWorker,
  stopAll,
  waitFor,
} from './support/apps';
import { FakeGitHub, startFakeGitHub } from './support/fake-github';
import { postJson } from './support/http';
import { SMALL_MODEL_DIR, WORKSPACE_ROOT } from './support/paths';
import { connectRedis, deletePrefix, uniquePrefix } from './support/redis';

// The loop the product exists for, on real processes: labelled examples through the gateway, a drift run
// that exports them to a Hub dataset repository (a fake Hub on loopback) and asks GitHub (a fake) to retrain
// on that snapshot, then the retrain workflow's commands: train, gate, publish to the Hub model repository.
const prefix = uniquePrefix('loop');
const HF_TOKEN = 'hf_e2e_write_token';
const API_KEY = 'loop-e2e-key-0123456789';
const DATASET_REPO = 'acme/labelled-examples';
const MODEL_REPO = 'acme/sentiment';
const auth = { 'x-api-key': API_KEY };
const work = mkdtempSync(join(tmpdir(), 'retrain-loop-'));
const golden = join(work, 'golden.jsonl');

let redis: Redis;
let hub: FakeHub;
let github: FakeGitHub;
let gateway: AppProcess;
let monitor: AppProcess;

/** The retrain workflow's commands, as it runs them (tools/retrain cli.ts), with the Hub in the environment. */
function command(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      join(WORKSPACE_ROOT, 'node_modules/.bin/tsx'),
      [
        '--tsconfig',
        join(WORKSPACE_ROOT, 'tsconfig.base.json'),
        join(WORKSPACE_ROOT, 'tools/retrain/src/cli.ts'),
        ...args,
      ],
      {
        cwd: WORKSPACE_ROOT,
        env: { PATH: process.env.PATH, HF_ENDPOINT: hub.endpoint, HF_TOKEN, NO_COLOR: '1' },
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function monitorEnv(redisUrl: string, queuePrefix: string): Record<string, string> {
  return {
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: queuePrefix,
    SCHEDULE: 'off',
    API_KEYS: API_KEY,
    DATASET_STORE: `hf://datasets/${DATASET_REPO}`,
    HF_ENDPOINT: hub.endpoint,
    HF_TOKEN,
    EXPORT_MIN_EXAMPLES: '10',
    GITHUB_REPOSITORY: 'acme/reputation-monitor',
    GITHUB_TOKEN: 'ghs_loop_e2e',
    GITHUB_API_URL: github.url,
    RETRAIN_COOLDOWN_SECONDS: '1',
  };
}

function shuffled<T>(items: T[], seed: number): T[] {
  const random = seededRandom(seed);
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}

async function run(url: string, body: unknown = {}): Promise<any> {
  const response = await postJson(`${url}/v1/runs`, body, adminAuth);
  if (response.status !== 200)
    throw new Error(`POST /v1/runs: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body;
}

function manifest(revision = 'main'): any {
  return JSON.parse(hub.files('dataset', DATASET_REPO, revision).get('manifest.json')!.toString());
}

beforeAll(async () => {
  redis = connectRedis();
  hub = await FakeHub.start({ tokens: [HF_TOKEN] });
  github = await startFakeGitHub();
  writeFileSync(
    golden,
    readTweetEval('test')
      .slice(0, 300)
      .map((tweet) => JSON.stringify(tweet))
      .join('\n') + '\n',
  );
  await startWorker({ QUEUE_PREFIX: prefix, MODEL_DIR: SMALL_MODEL_DIR });
  gateway = await startGateway({ QUEUE_PREFIX: prefix, API_KEYS: API_KEY, SYNC_TIMEOUT_MS: '20000' });
  monitor = await startDriftMonitor(monitorEnv(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', prefix));
});

afterAll(async () => {
  await stopAll();
  await hub.close();
  await github.close();
  await deletePrefix(redis, prefix);
  redis.disconnect();
  rmSync(work, { recursive: true, force: true });
});

describe('the retraining loop', () => {
  let snapshot: string;
  const candidate = join(work, 'candidate');

  it('keeps labelled examples, exports them as a snapshot and names it in the retrain request', async () => {
    // Feedback on predictions (texts taken from the jobs) and imports from an annotation tool: TweetEval
    // test tweets other than the golden set's, in a seeded random order.
    const tweets = shuffled(readTweetEval('test').slice(300), 11).slice(0, 3_000);
    const predicted = tweets.slice(0, 20);
    const batch = await postJson(
      `${gateway.url}/v1/sentiment/batch`,
      { items: predicted.map((tweet, i) => ({ text: tweet.text, id: `loop-${i}` })), source: 'twitter' },
      auth,
    );
    expect(batch.status).toBe(200);
    const feedback = await postJson(
      `${gateway.url}/v1/feedback/batch`,
      { items: predicted.map((tweet, i) => ({ id: `loop-${i}`, label: tweet.label })) },
      auth,
    );
    expect(feedback.body.results.every((r: any) => r.example.status === 'stored')).toBe(true);
    const imported = tweets.slice(20);
    for (let start = 0; start < imported.length; start += 200) {
      const response = await postJson(
        `${gateway.url}/v1/examples/batch`,
        { items: imported.slice(start, start + 200).map((tweet) => ({ ...tweet, source: 'annotation' })) },
        auth,
      );
      expect(response.status).toBe(200);
    }
    const distinct = new Set(tweets.map((tweet) => exampleId(tweet.text))).size;
    expect(await redis.hlen(redisKeys.examplesPending(prefix))).toBe(distinct);

    const report = await run(monitor.url, { retrain: true });
    expect(report.dataset).toMatchObject({
      status: 'exported',
      store: `hf://datasets/${DATASET_REPO}`,
      pending: distinct,
      batch: { examples: distinct, written: true },
    });
    snapshot = report.dataset.snapshot.location;
    const commit = hub.head('dataset', DATASET_REPO, 'main');
    expect(snapshot).toBe(`hf://datasets/${DATASET_REPO}@${commit}`);
    expect(report.retrain).toMatchObject({ requested: true, outcome: 'dispatched' });
    const dispatch = github.requests.find((r) => r.method === 'POST');
    expect(dispatch?.body.client_payload).toMatchObject({ datasetSnapshot: snapshot, reportId: report.id });

    // The shard holds every example once, with the manifest's counts and hash; nothing waits in Redis.
    expect(manifest()).toMatchObject({
      totals: { examples: distinct, bySource: { twitter: 20, annotation: distinct - 20 } },
    });
    expect(await redis.hlen(redisKeys.examplesPending(prefix))).toBe(0);
    expect(await redis.exists(redisKeys.examplesExportInProgress(prefix))).toBe(0);
  });

  it('trains a candidate on that snapshot, gates it against the champion and publishes it to a branch', async () => {
    const trained = await command([
      'train',
      '--base',
      SMALL_MODEL_DIR,
      '--dataset',
      snapshot,
      '--out',
      candidate,
      '--golden',
      golden,
      '--seed',
      '3',
    ]);
    expect({ code: trained.code, stderr: trained.code === 0 ? '' : trained.stderr }).toEqual({
      code: 0,
      stderr: '',
    });
    const provenance = JSON.parse(readFileSync(join(candidate, 'config.json'), 'utf8')).retrain;
    expect(provenance.dataset).toMatchObject({
      location: snapshot,
      revision: hub.head('dataset', DATASET_REPO, 'main'),
    });

    const report = join(work, 'gate-report.json');
    const gated = await command([
      'gate',
      '--champion',
      SMALL_MODEL_DIR,
      '--candidate',
      candidate,
      '--golden',
      golden,
      '--out',
      report,
    ]);
    expect({ code: gated.code, stdout: gated.stdout }).toEqual({
      code: 0,
      stdout: expect.stringContaining('Evaluation gate: passed'),
    });
    const gate = JSON.parse(readFileSync(report, 'utf8'));
    expect(gate.sets.holdout.candidate.macroRecall).toBeGreaterThan(gate.sets.holdout.champion.macroRecall);
    expect(gate.sets.holdout.test.pValue).toBeLessThan(0.05);

    const published = await command([
      'publish',
      '--candidate',
      candidate,
      '--report',
      report,
      '--repo',
      MODEL_REPO,
    ]);
    expect(published.stdout).toMatch(/^candidate ready: acme\/sentiment@candidate-fp32-[0-9a-f]{12} /);
    const branch = `candidate-${gate.candidate.version}`;
    const files = hub.files('model', MODEL_REPO, branch);
    expect(JSON.parse(files.get('gate-report.json')!.toString()).verdict).toBe('pass');
    expect(files.get('README.md')!.toString()).toContain(snapshot);
    expect(hub.fileInfo('model', MODEL_REPO, branch, 'onnx/model.onnx')?.lfs).toBeDefined();
  });

  it('uploads nothing when the gate does not pass, and says why', async () => {
    const commitsBefore = hub.commits('model', MODEL_REPO, 'main').length;
    const branchesBefore = hub.branches('model', MODEL_REPO).size;
    const report = join(work, 'failed-gate.json');
    const gated = await command([
      'gate',
      '--champion',
      SMALL_MODEL_DIR,
      '--candidate',
      candidate,
      '--golden',
      golden,
      '--min-gain',
      '0.9',
      '--out',
      report,
    ]);
    expect(gated.code).toBe(3);
    expect(gated.stdout).toMatch(/Evaluation gate: not passed[\s\S]*at least \+0\.9 needed/);
    const published = await command([
      'publish',
      '--candidate',
      candidate,
      '--report',
      report,
      '--repo',
      MODEL_REPO,
    ]);
    expect(published.code).toBe(1);
    expect(published.stderr).toMatch(/not published: the gate did not pass \(holdout macro recall/);
    expect(hub.commits('model', MODEL_REPO, 'main')).toHaveLength(commitsBefore);
    expect(hub.branches('model', MODEL_REPO).size).toBe(branchesBefore);
  });

  it('writes a batch exactly once when the Hub commits it but the answer is lost', async () => {
    const before = manifest().totals.examples;
    const extra = readTweetEval('val').slice(0, 30);
    const imported = await postJson(`${gateway.url}/v1/examples/batch`, { items: extra }, auth);
    expect(imported.status).toBe(200);
    hub.loseAnswerOfNext(1, {
      match: (request) => request.path.startsWith(`/api/datasets/${DATASET_REPO}/commit/`),
    });
    const failed = await run(monitor.url);
    expect(failed.outcome).toBe('partial');
    expect(failed.dataset.status).toBe('failed');
    // The commit landed, the monitor could not know: the batch waits in Redis under its id.
    expect(manifest().totals.examples).toBe(before + 30);
    expect(await redis.exists(redisKeys.examplesExportInProgress(prefix))).toBe(1);

    const retried = await run(monitor.url);
    expect(retried.dataset).toMatchObject({ status: 'exported', batch: { examples: 30, written: false } });
    expect(manifest().totals.examples).toBe(before + 30);
    const batches = manifest().shards.map((shard: any) => shard.batchId);
    expect(new Set(batches).size).toBe(batches.length);
    expect(await redis.exists(redisKeys.examplesExportInProgress(prefix))).toBe(0);
  });
});

describe('an export interrupted by a killed replica and a Redis restart', () => {
  it('loses nothing and writes nothing twice', async () => {
    const ownPrefix = uniquePrefix('loop-restart');
    const server = new RedisServer({
      port: await freePort(),
      appendOnlyDir: mkdtempSync(join(tmpdir(), 'aof-')),
    });
    await server.start();
    const client = new IORedis(server.url, { maxRetriesPerRequest: 1 });
    client.on('error', () => undefined);
    try {
      const buffer = new ExampleBuffer(client, { prefix: ownPrefix, ttlSeconds: 86_400 });
      const tweets = readTweetEval('val').slice(100, 200);
      const examples: LabelledExample[] = tweets.map((tweet, i) => ({
        id: exampleId(tweet.text),
        text: tweet.text,
        label: tweet.label,
        source: 'restart',
        origin: 'import',
        at: Date.now() + i,
      }));
      await buffer.add(examples);
      const distinct = await buffer.pendingCount();
      const before = manifest().totals.examples;

      // The replica takes the batch, then dies while its commit is on the way.
      const replica = await startDriftMonitor(monitorEnv(server.url, ownPrefix));
      hub.delayNext(1, 3_000, {
        match: (request) => request.path.startsWith(`/api/datasets/${DATASET_REPO}/commit/`),
      });
      void postJson(`${replica.url}/v1/runs`, {}, adminAuth).catch(() => undefined);
      await waitFor(
        async () =>
          (await client.exists(redisKeys.examplesExportInProgress(ownPrefix))) === 1 ? true : undefined,
        20_000,
        'the export to begin',
      );
      await replica.stop('SIGKILL');
      await server.kill();
      await server.start();
      await new Promise((resolve) => setTimeout(resolve, 3_500)); // past the held-back commit

      // The dead replica's run lease lapses after its TTL (30 s); until then runs wait for it.
      const next = await startDriftMonitor(monitorEnv(server.url, ownPrefix));
      const report = await waitFor(() => run(next.url), 60_000, "a run once the dead replica's lease lapsed");
      expect(report.dataset.status).toBe('exported');
      expect(manifest().totals.examples).toBe(before + distinct);
      const shard = manifest().shards.find((s: any) => s.batchId === report.dataset.batch.id);
      expect(shard.examples).toBe(distinct);
      expect(await client.hlen(redisKeys.examplesPending(ownPrefix))).toBe(0);
      expect(await client.exists(redisKeys.examplesExportInProgress(ownPrefix))).toBe(0);
      await next.stop();
    } finally {
      await deletePrefix(client, ownPrefix).catch(() => undefined);
      client.disconnect();
      await server.kill();
    }
  });
});
