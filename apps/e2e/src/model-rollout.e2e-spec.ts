import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { parseStreamEntry, redisKeys } from '@reputation-monitor/contracts';
import { AppProcess, startGateway, startWorker, stopAll, waitFor } from './support/apps';
import { getJson, postJson, request } from './support/http';
import { WORKSPACE_ROOT } from './support/paths';
import { connectRedis, deletePrefix, uniquePrefix } from './support/redis';

// Promotion, rollback, shadow and canary on real processes: a local model registry of tiny synthetic models,
// the gateway's admin API, two workers following the assignment, steady traffic from several clients.
const prefix = uniquePrefix('rollout');
const CLIENT_KEY = 'rollout-client-key-0123456789';
const ADMIN_KEY = 'rollout-admin-key-0123456789';
const registry = mkdtempSync(join(tmpdir(), 'registry-'));
const client = { authorization: `Bearer ${CLIENT_KEY}` };
const admin = { authorization: `Bearer ${ADMIN_KEY}` };
const workerEnv = {
  QUEUE_PREFIX: prefix,
  ASSIGNMENT_POLL_MS: '1000',
  // A killed worker's jobs are picked up by the other once their lock lapses.
  LOCK_DURATION_MS: '4000',
  STALLED_INTERVAL_MS: '2000',
  // Two cores: production on two lanes (and the solo lane), any other version on one session.
  INTRA_OP_THREADS: '2',
  INFERENCE_SOLO_LANE: 'on',
};

let redis: Redis;
let gateway: AppProcess;
const workers: AppProcess[] = [];
const versions: Record<string, string> = {};

/** A tiny synthetic model as a registry version, with a passing gate report naming exactly its graph. */
function addVersion(name: string, seed: number, gate: 'pass' | 'fail' | 'none' = 'pass'): void {
  const dir = join(registry, name);
  execFileSync(join(WORKSPACE_ROOT, 'node_modules/.bin/tsx'), [
    join(WORKSPACE_ROOT, 'tools/synthetic-model/src/cli.ts'),
    '--preset',
    'tiny',
    '--seed',
    String(seed),
    '--out',
    dir,
  ]);
  const digest = createHash('sha256')
    .update(readFileSync(join(dir, 'onnx/model.onnx')))
    .digest('hex');
  versions[name] = `fp32-${digest.slice(0, 12)}`;
  if (gate === 'none') return;
  writeFileSync(
    join(dir, 'gate-report.json'),
    JSON.stringify({
      verdict: gate,
      thresholds: { minGain: 0.01, maxP: 0.01, maxRegression: 0.01 },
      reasons: [
        gate === 'pass' ? 'holdout macro recall 0.30 -> 0.40 (+0.10)' : 'holdout macro recall 0.30 -> 0.29',
      ],
      createdAt: new Date().toISOString(),
      candidate: { version: versions[name], dir },
    }),
  );
}

/** A broken copy of a version: `damage` changes one thing about it. */
function addBroken(name: string, damage: (dir: string) => void): void {
  const dir = join(registry, name);
  cpSync(join(registry, 'alpha'), dir, { recursive: true });
  rmSync(join(dir, 'gate-report.json'), { force: true });
  damage(dir);
}

async function adminPost(path: string, body: unknown) {
  return postJson(`${gateway.url}/v1/admin/models${path}`, body, admin);
}

async function converged(revision: number): Promise<any> {
  return waitFor(
    async () => {
      const status = await getJson(`${gateway.url}/v1/admin/models/assignment`, admin);
      const { body } = status;
      return body.converged &&
        body.assignment.revision === revision &&
        body.workers.length === workers.filter(alive).length
        ? body
        : undefined;
    },
    60_000,
    `every live worker to serve revision ${revision}`,
  );
}

/** What a worker's sentiment_inference_lanes says of a version: its lanes and whether it has the solo lane. */
async function lanesOf(
  worker: AppProcess,
  version: string,
): Promise<{ lanes: number; solo: boolean } | undefined> {
  const metrics = await (await fetch(`${worker.url}/metrics`)).text();
  const line = metrics
    .split('\n')
    .find((row) => row.startsWith('sentiment_inference_lanes{') && row.includes(`version="${version}"`));
  const match = line?.match(/solo_lane="(true|false)".*\} (\d+)$/);
  return match ? { lanes: Number(match[2]), solo: match[1] === 'true' } : undefined;
}

/** Production opens its lanes after the switch is reported, so what a version runs on is waited for. */
async function expectLanes(
  worker: AppProcess,
  version: string,
  expected: { lanes: number; solo: boolean },
): Promise<void> {
  const same = (seen: { lanes: number; solo: boolean } | undefined) =>
    seen?.lanes === expected.lanes && seen.solo === expected.solo;
  await waitFor(
    async () => (same(await lanesOf(worker, version)) ? true : undefined),
    30_000,
    `${version} on ${expected.lanes} lane(s)`,
  ).catch(() => undefined);
  expect(await lanesOf(worker, version)).toEqual(expected);
}

const alive = (worker: AppProcess) => worker.child.exitCode === null && worker.child.signalCode === null;

interface Answer {
  id: string;
  status: number;
  version?: string;
  sentAt: number;
  answeredAt: number;
}

/** Several clients sending single texts with ids of their own until stopped; every answer is kept. */
function steadyLoad(clients: number, tag: string): { stop(): Promise<Answer[]> } {
  const answers: Answer[] = [];
  let running = true;
  let next = 0;
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      const id = `${tag}-${next++}`;
      const sentAt = Date.now();
      const response = await postJson(
        `${gateway.url}/v1/sentiment`,
        { text: `steady traffic number ${id}`, id },
        client,
      ).catch(() => ({ status: 0, body: {} as any }));
      answers.push({
        id,
        status: response.status,
        version: response.body?.model?.version,
        sentAt,
        answeredAt: Date.now(),
      });
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return answers;
    },
  };
}

/** Answered predictions (not shadow ones) per id in the stream: each must appear exactly once. */
/** The stream's predictions, ids as the client named them (the stream scopes them by tenant: `<tenant>/<id>`). */
async function streamPredictions() {
  return (await redis.xrange(redisKeys.predictionStream(prefix), '-', '+')).flatMap((entry) => {
    const prediction = parseStreamEntry(entry as [string, string[]]);
    return prediction ? [{ ...prediction, id: prediction.id.slice(prediction.id.indexOf('/') + 1) }] : [];
  });
}

async function answeredPerId(ids: string[]): Promise<Map<string, number>> {
  const wanted = new Set(ids);
  const counts = new Map<string, number>();
  for (const prediction of await streamPredictions()) {
    if (prediction.role !== 'shadow' && wanted.has(prediction.id))
      counts.set(prediction.id, (counts.get(prediction.id) ?? 0) + 1);
  }
  return counts;
}

/**
 * Every request answered once with 200, and recorded in the prediction stream. A job taken over from a worker
 * killed after it wrote the stream but before BullMQ had the result is computed again and recorded twice (the
 * stream is at-least-once; the client still gets one answer): `killed` allows that.
 */
function expectClean(answers: Answer[], counts: Map<string, number>, least = 20, killed = false): void {
  expect(answers.length).toBeGreaterThanOrEqual(least);
  expect(answers.filter((answer) => answer.status !== 200)).toEqual([]);
  expect(
    answers.filter(
      (answer) => (counts.get(answer.id) ?? 0) < 1 || (counts.get(answer.id) ?? 0) > (killed ? 2 : 1),
    ),
  ).toEqual([]);
  expect(new Set(answers.map((answer) => answer.id)).size).toBe(answers.length);
}

beforeAll(async () => {
  redis = connectRedis();
  addVersion('alpha', 101);
  addVersion('beta', 202);
  addVersion('gamma', 303, 'fail');
  addBroken('broken-graph', (dir) =>
    writeFileSync(join(dir, 'onnx/model.onnx'), Buffer.from('not an onnx graph')),
  );
  addBroken('wrong-labels', (dir) => {
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    config.id2label = { '0': 'joy', '1': 'anger', '2': 'fear' };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  });
  addBroken('no-tokenizer', (dir) => rmSync(join(dir, 'tokenizer.json')));
  gateway = await startGateway({
    QUEUE_PREFIX: prefix,
    API_KEYS: CLIENT_KEY,
    ADMIN_API_KEYS: ADMIN_KEY,
    MODEL_REGISTRY: registry,
    SYNC_TIMEOUT_MS: '30000',
    // The steady load comes from one key, faster than the default per-key limit allows.
    RATE_LIMIT_PER_MINUTE: '0',
  });
  workers.push(await startWorker(workerEnv), await startWorker(workerEnv));
});

afterAll(async () => {
  await stopAll();
  await deletePrefix(redis, prefix);
  redis.disconnect();
  rmSync(registry, { recursive: true, force: true });
});

describe('the admin API', () => {
  it('lets only admin keys in, and says what is wrong with a request', async () => {
    expect(
      (await postJson(`${gateway.url}/v1/admin/models/promote`, { version: 'alpha', reason: 'x' })).status,
    ).toBe(401);
    const asClient = await postJson(
      `${gateway.url}/v1/admin/models/promote`,
      { version: 'alpha', reason: 'x' },
      client,
    );
    expect(asClient.status).toBe(403);
    expect(asClient.body.code).toBe('forbidden');
    // An admin key is also a client key.
    expect(
      (await postJson(`${gateway.url}/v1/sentiment`, { text: 'admin can classify' }, admin)).status,
    ).toBe(200);

    const bad = await adminPost('/promote', { version: '', force: 'yes' });
    expect(bad.status).toBe(422);
    expect([...new Set(bad.body.errors.map((e: any) => e.field))].sort()).toEqual([
      'force',
      'reason',
      'version',
    ]);
    const share = await adminPost('/candidate', { version: 'beta', mode: 'mirror', share: 2, reason: 'x' });
    expect([...new Set(share.body.errors.map((e: any) => e.field))].sort()).toEqual(['mode', 'share']);
    expect((await adminPost('/promote', { version: 'nope', reason: 'x' })).status).toBe(404);
    const gate = await adminPost('/promote', { version: 'gamma', reason: 'x' });
    expect(gate).toMatchObject({ status: 409, body: { code: 'gate_not_passed' } });
    expect((await adminPost('/rollback', { reason: 'nothing yet' })).status).toBe(409);
    expect(
      (
        await request(`${gateway.url}/v1/admin/models/candidate?reason=x`, {
          method: 'DELETE',
          headers: admin,
        })
      ).status,
    ).toBe(409);

    const listed = await getJson(`${gateway.url}/v1/admin/models`, admin);
    const byId = Object.fromEntries(listed.body.versions.map((v: any) => [v.id, v]));
    expect(byId.alpha).toMatchObject({ modelVersion: versions.alpha, gate: { verdict: 'pass' }, roles: [] });
    expect(byId.gamma.gate.verdict).toBe('fail');
  });

  it('answers 503 for a change no replica acknowledged, and says it is written', async () => {
    // This Redis has no replica, so a gateway told to wait for one never gets its acknowledgement.
    const lonePrefix = `${prefix}-unreplicated`;
    const waiting = await startGateway({
      QUEUE_PREFIX: lonePrefix,
      API_KEYS: CLIENT_KEY,
      ADMIN_API_KEYS: ADMIN_KEY,
      MODEL_REGISTRY: registry,
      REDIS_WAIT_REPLICAS: '1',
      REDIS_WAIT_TIMEOUT_MS: '50',
    });
    try {
      const promoted = await postJson(
        `${waiting.url}/v1/admin/models/promote`,
        { version: 'alpha', reason: 'no replica here' },
        admin,
      );
      expect(promoted).toMatchObject({
        status: 503,
        body: {
          code: 'change_not_replicated',
          detail: expect.stringMatching(
            /revision 1 \(initialize\) is written on the Redis primary.*Read the/,
          ),
        },
      });
      // Written all the same: the status shows it, so the admin does not repeat it blindly.
      const status = await getJson(`${waiting.url}/v1/admin/models/assignment`, admin);
      expect(status.body.assignment).toMatchObject({ revision: 1, production: { id: 'alpha' } });
    } finally {
      await waiting.stop();
      await deletePrefix(redis, lonePrefix);
    }
  });
});

describe('promotion and rollback without downtime', () => {
  it('moves every worker from MODEL_DIR to a promoted version under load, losing nothing', async () => {
    const load = steadyLoad(4, 'first');
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const promoted = await adminPost('/promote', {
      version: 'alpha',
      reason: 'first production from the registry',
    });
    expect(promoted.status).toBe(200);
    expect(promoted.body).toMatchObject({
      revision: 1,
      production: { id: 'alpha' },
      change: { action: 'initialize' },
    });
    const status = await converged(1);
    const convergedAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const answers = await load.stop();
    expectClean(answers, await answeredPerId(answers.map((a) => a.id)));
    expect(status.switchSeconds).toBeGreaterThanOrEqual(0);
    console.log(`switch MODEL_DIR -> alpha: every worker serving after ${status.switchSeconds.toFixed(2)} s`);
    const after = answers.filter((answer) => answer.sentAt > convergedAt);
    expect(after.length).toBeGreaterThan(0);
    expect(new Set(after.map((answer) => answer.version))).toEqual(new Set([versions.alpha]));
  });

  it('promotes and rolls back under load, every answer naming the version that computed it', async () => {
    const load = steadyLoad(4, 'switch');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await adminPost('/promote', { version: 'beta', reason: 'beta passed its gate' })).status).toBe(
      200,
    );
    const promoted = await converged(2);
    const promotedAt = Date.now();
    // Loaded on one session beside alpha, beta serves at once and opens its lanes once alpha is closed.
    for (const worker of workers) {
      await expectLanes(worker, versions.beta, { lanes: 2, solo: true });
      expect(await lanesOf(worker, versions.alpha)).toBeUndefined();
      const logs = worker.logs();
      const narrowAt = logs.search(/beta \(fp32\): 1 lane of 2 threads/);
      expect(narrowAt).toBeGreaterThanOrEqual(0);
      expect(logs.slice(narrowAt)).toMatch(/beta \(fp32\): 2 lanes of 1 thread and a solo lane of 2/);
    }
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const rolledBack = await adminPost('/rollback', { reason: 'beta misbehaves' });
    expect(rolledBack.body).toMatchObject({
      revision: 3,
      production: { id: 'alpha' },
      change: { action: 'rollback' },
    });
    const rollback = await converged(3);
    const rolledBackAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const answers = await load.stop();
    expectClean(answers, await answeredPerId(answers.map((a) => a.id)));
    expect(new Set(answers.map((a) => a.version))).toEqual(new Set([versions.alpha, versions.beta]));
    // Once every worker serves a version, requests sent after that get it.
    const between = answers.filter(
      (a) => a.sentAt > promotedAt && a.answeredAt < Date.parse(rolledBack.body.change.at),
    );
    expect(between.length).toBeGreaterThan(0);
    expect(between.every((a) => a.version === versions.beta)).toBe(true);
    expect(answers.filter((a) => a.sentAt > rolledBackAt).every((a) => a.version === versions.alpha)).toBe(
      true,
    );
    console.log(
      `promote alpha -> beta: ${promoted.switchSeconds.toFixed(2)} s; rollback beta -> alpha: ${rollback.switchSeconds.toFixed(2)} s`,
    );

    const history = (await getJson(`${gateway.url}/v1/admin/models/assignment?history=5`, admin)).body
      .history;
    expect(history.map((entry: any) => [entry.revision, entry.change.action, entry.change.reason])).toEqual([
      [3, 'rollback', 'beta misbehaves'],
      [2, 'promote', 'beta passed its gate'],
      [1, 'initialize', 'first production from the registry'],
    ]);
    expect(history[0].change.actor).toMatch(/^key:[0-9a-f]{12}$/);
  });

  it('finishes the switch with a worker killed (-9) in the middle of it', async () => {
    const load = steadyLoad(4, 'kill');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await adminPost('/promote', { version: 'beta', reason: 'again, with a crash' })).status).toBe(
      200,
    );
    await workers[0].stop('SIGKILL');
    workers[0] = await startWorker(workerEnv);
    await converged(4);
    await new Promise((resolve) => setTimeout(resolve, 6_000)); // past the dead worker's job locks
    const answers = await load.stop();
    expectClean(answers, await answeredPerId(answers.map((a) => a.id)), 20, true);
  });

  it('refuses versions that cannot serve, keeping the one that can, with no failed job', async () => {
    for (const broken of ['broken-graph', 'wrong-labels', 'no-tokenizer']) {
      const load = steadyLoad(2, broken);
      const forced = await adminPost('/promote', { version: broken, force: true, reason: `try ${broken}` });
      expect(forced.body.change.forced).toBe(true);
      const revision = forced.body.revision;
      const refused = await waitFor(
        async () => {
          const { body } = await getJson(`${gateway.url}/v1/admin/models/assignment`, admin);
          const live = body.workers.filter((w: any) => w.revision === revision && w.state === 'failed');
          return live.length === workers.length ? body : undefined;
        },
        30_000,
        `both workers to refuse ${broken}`,
      );
      expect(refused.converged).toBe(false);
      expect(
        refused.workers.every(
          (w: any) =>
            w.serving[0].id === 'beta' && /production broken|wrong|tokenizer|onnx|graph|label/i.test(w.error),
        ),
      ).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const answers = await load.stop();
      expectClean(answers, await answeredPerId(answers.map((a) => a.id)), 2);
      expect(answers.every((a) => a.version === versions.beta)).toBe(true);
    }
    const metrics = await (await fetch(`${workers[1].url}/metrics`)).text();
    expect(metrics).toMatch(/sentiment_model_reloads_total\{outcome="failed"[^}]*\} [3-9]/);
    expect(metrics).toContain(
      `sentiment_model_info{name="beta",version="${versions.beta}",dtype="fp32",role="production"`,
    );
    // A rollback skips the versions every worker refused, back to beta, which they still serve.
    const back = await adminPost('/rollback', { reason: 'back from the broken ones' });
    expect(back).toMatchObject({ status: 200, body: { production: { id: 'beta' } } });
    await converged(back.body.revision);
    expect((await adminPost('/promote', { version: 'beta', reason: 'x' })).status).toBe(422); // already production
  });
});

describe('shadow and canary', () => {
  it('shadows every text at share 1: clients get production, the stream holds both predictions', async () => {
    const { body: before } = await getJson(`${gateway.url}/v1/admin/models/assignment`, admin);
    const production = before.assignment.production.id;
    const other = production === 'alpha' ? 'beta' : 'alpha';
    const set = await adminPost('/candidate', {
      version: other,
      mode: 'shadow',
      share: 1,
      reason: 'shadow it',
    });
    await converged(set.body.revision);
    const ids = Array.from({ length: 30 }, (_, i) => `shadow-${i}`);
    const answers = await Promise.all(
      ids.map((id) => postJson(`${gateway.url}/v1/sentiment`, { text: `shadowed text ${id}`, id }, client)),
    );
    expect(answers.every((a) => a.status === 200 && a.body.model.version === versions[production])).toBe(
      true,
    );
    const pairs = await waitFor(
      async () => {
        const entries = await streamPredictions();
        const shadow = entries.filter((e) => e.role === 'shadow' && ids.includes(e.id));
        return shadow.length === ids.length ? { entries, shadow } : undefined;
      },
      30_000,
      'a shadow prediction for every text',
    );
    expect(new Set(pairs.shadow.map((e) => e.version))).toEqual(new Set([versions[other]]));
    expect(pairs.entries.filter((e) => e.role === 'production' && ids.includes(e.id))).toHaveLength(
      ids.length,
    );
  });

  it('answers a sticky share of jobs with a canary, each result naming its version', async () => {
    const { body: before } = await getJson(`${gateway.url}/v1/admin/models/assignment`, admin);
    const production = before.assignment.production.id;
    const other = before.assignment.candidate.version.id;
    const set = await adminPost('/candidate', {
      version: other,
      mode: 'canary',
      share: 0.5,
      reason: 'canary it',
    });
    await converged(set.body.revision);
    // The canary runs on one session with every core; production keeps its lanes.
    for (const worker of workers) {
      await expectLanes(worker, versions[other], { lanes: 1, solo: false });
      await expectLanes(worker, versions[production], { lanes: 2, solo: true });
    }
    const ids = Array.from({ length: 60 }, (_, i) => `canary-${i}`);
    const answers = await Promise.all(
      ids.map((id) => postJson(`${gateway.url}/v1/sentiment`, { text: `canary text ${id}`, id }, client)),
    );
    const byVersion = answers.map((a) => a.body.model.version);
    const canaried = byVersion.filter((v) => v === versions[other]).length;
    expect(canaried).toBeGreaterThan(10);
    expect(canaried).toBeLessThan(50);
    expect(byVersion.every((v) => v === versions[other] || v === versions[production])).toBe(true);
    // A retried job (same id, same text) is the same job: the same version answers.
    const retried = await postJson(
      `${gateway.url}/v1/sentiment`,
      { text: 'canary text canary-7', id: 'canary-7' },
      client,
    );
    expect(retried.body.model.version).toBe(byVersion[7]);

    const cleared = await request(
      `${gateway.url}/v1/admin/models/candidate?reason=${encodeURIComponent('done')}`,
      {
        method: 'DELETE',
        headers: admin,
      },
    );
    expect(cleared.status).toBe(200);
    await converged((cleared.body as any).revision);
  });
});
