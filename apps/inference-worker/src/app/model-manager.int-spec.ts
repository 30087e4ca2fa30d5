import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import IORedis from 'ioredis';
import { encodeAssignment, redisKeys, type WorkerModelStatus } from '@reputation-monitor/contracts';
import { FakeHub } from '@reputation-monitor/fake-hub';
import {
  AssignmentStore,
  ModelAdmin,
  openModelRegistry,
  uploadModelVersion,
} from '@reputation-monitor/model-registry';
import { Heartbeat } from './heartbeat';
import { LoadedModel } from './loaded-model';
import { ModelManager } from './model-manager';
import { loadWorkerConfig } from './worker-config';
import { WorkerMetrics } from './worker-metrics';

// The real ModelManager on real Redis and a local registry of tiny synthetic models. LoadedModel.load is the
// real one, held back for one version until the test lets it go: a load that takes long (a big pull).
const ROOT = resolve(__dirname, '../../../..');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `test-models-${process.pid}-${Date.now().toString(36)}`;
const redis = new IORedis(REDIS_URL);
const actor = { actor: 'model-manager spec', reason: 'testing' };
let registry: string;
let admin: ModelAdmin;
let store: AssignmentStore;

beforeAll(async () => {
  registry = await mkdtemp(join(tmpdir(), 'model-manager-'));
  for (const [name, seed] of [
    ['alpha', 1],
    ['beta', 2],
    // Named like the id a worker gives MODEL_DIR when it serves it without an assignment.
    ['static', 3],
  ] as const) {
    execFileSync(join(ROOT, 'node_modules/.bin/tsx'), [
      join(ROOT, 'tools/synthetic-model/src/cli.ts'),
      '--preset',
      'tiny',
      '--seed',
      String(seed),
      '--out',
      join(registry, name),
    ]);
  }
  store = new AssignmentStore(redis, prefix);
  // A local registry: the Hub connection is never used.
  admin = new ModelAdmin(store, openModelRegistry(registry, { endpoint: 'http://127.0.0.1:9' }));
}, 120_000);

afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  await rm(registry, { recursive: true, force: true });
});

async function startManager(env: Record<string, string> = {}): Promise<{
  manager: ModelManager;
  heartbeat: Heartbeat;
  metrics: WorkerMetrics;
  stop(): Promise<void>;
}> {
  const config = loadWorkerConfig({
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    MODEL_DIR: join(registry, 'alpha'),
    MODEL_CACHE_DIR: join(registry, 'cache'),
    INTRA_OP_THREADS: '1',
    INFERENCE_LANES: '1',
    ASSIGNMENT_POLL_MS: '100',
    HEARTBEAT_INTERVAL_MS: '100',
    ...env,
  });
  const heartbeat = new Heartbeat(redis, config);
  await heartbeat.start();
  const metrics = new WorkerMetrics(config);
  const manager = new ModelManager(config, redis, metrics, heartbeat);
  await manager.load();
  return {
    manager,
    heartbeat,
    metrics,
    async stop() {
      await manager.onApplicationShutdown();
      await heartbeat.stop();
    },
  };
}

/** Holds LoadedModel.load of `versionId` back until `release()`; every load is recorded. */
function holdLoadsOf(versionId: string) {
  const load = LoadedModel.load.bind(LoadedModel);
  const loads: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const spy = jest.spyOn(LoadedModel, 'load').mockImplementation(async (options) => {
    loads.push(options.versionId);
    if (options.versionId === versionId) await gate;
    return load(options);
  });
  return { loads, release, restore: () => spy.mockRestore() };
}

async function until<T>(probe: () => Promise<T | undefined>, what: string, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The assignment as earlier tests left it, or alpha promoted as the first. */
async function currentAssignment() {
  return (await store.current()) ?? (await admin.promote({ ...actor, version: 'alpha', force: true }));
}

async function ownStatus(workerId: string) {
  return (await store.statuses()).find((status) => status.workerId === workerId);
}

/** Resolves once the worker reports `state` for `revision`. */
function reported(
  workerId: string,
  state: WorkerModelStatus['state'],
  revision: number,
  what: string,
  ms?: number,
) {
  return until(
    async () => {
      const status = await ownStatus(workerId);
      return status?.state === state && status.revision === revision ? status : undefined;
    },
    what,
    ms,
  );
}

it('never serves a version rolled back while it was loading, and reports loading meanwhile', async () => {
  const first = await admin.promote({ ...actor, version: 'alpha', force: true });
  const { manager, heartbeat, metrics, stop } = await startManager();
  const switches = async () =>
    /sentiment_model_switch_seconds_count(?:{[^}]*})? (\d+)/.exec(await metrics.registry.metrics())?.[1];
  // Loading the assignment found at start is no switch (the change was made before this worker ran).
  expect(await switches()).toBe('0');
  const held = holdLoadsOf('beta');
  try {
    expect(manager.route('job-0').answer.versionId).toBe('alpha');
    const promoted = await admin.promote({ ...actor, version: 'beta', force: true });
    await until(async () => (held.loads.includes('beta') ? true : undefined), 'the load of beta');
    // Several heartbeats into the load: the status says loading, not the old revision serving.
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(await ownStatus(heartbeat.workerId)).toMatchObject({
      state: 'loading',
      revision: promoted.revision,
    });

    const rolledBack = await admin.rollback(actor);
    held.release();
    const answered = new Set<string>();
    await until(async () => {
      const route = manager.route(`job-${answered.size}-${Date.now()}`);
      answered.add(route.answer.versionId);
      route.release();
      route.releaseShadow();
      const status = await ownStatus(heartbeat.workerId);
      return status?.state === 'serving' && status.revision === rolledBack.revision ? status : undefined;
    }, 'the rollback applied');
    expect(answered).toEqual(new Set(['alpha']));
    expect(await switches()).toBe('1'); // the rollback; the superseded promotion never switched
    expect(first.revision).toBeLessThan(rolledBack.revision);
    // alpha stayed loaded: it was never closed and loaded again.
    expect(held.loads.filter((id) => id === 'alpha')).toEqual([]);
  } finally {
    held.release();
    held.restore();
    await stop();
  }
}, 60_000);

it('loads a shadow candidate whose inference thread died afresh when it is promoted, instead of serving it dead', async () => {
  if ((await store.current())?.production.id !== 'alpha')
    await admin.promote({ ...actor, version: 'alpha', force: true });
  const { manager, heartbeat, stop } = await startManager();
  try {
    const shadowed = await admin.setCandidate({ ...actor, version: 'beta', mode: 'shadow', share: 1 });
    await reported(heartbeat.workerId, 'serving', shadowed.revision, 'the shadow candidate');
    const shadow = manager.route('job-shadow');
    shadow.release();
    shadow.releaseShadow();
    const candidate = shadow.shadow;
    if (!candidate) throw new Error('no shadow candidate was routed');
    expect(candidate.versionId).toBe('beta');
    // Its one session's thread dies (out of memory, a native crash): only shadow scoring notices.
    type WithThread = { sessions: { lanes: Array<{ thread: { terminate(): Promise<number> } }> } };
    await (candidate as unknown as WithThread).sessions.lanes[0].thread.terminate();
    await until(async () => (candidate.broken ? true : undefined), 'the candidate to count as broken');

    const promoted = await admin.promote({ ...actor, version: 'beta', force: true });
    await reported(heartbeat.workerId, 'serving', promoted.revision, 'the promotion');
    const route = manager.route('job-after');
    try {
      expect(route.answer.versionId).toBe('beta');
      expect(route.answer).not.toBe(candidate);
      expect(route.answer.broken).toBeUndefined();
      expect(manager.failure).toBeUndefined();
    } finally {
      route.release();
      route.releaseShadow();
    }
  } finally {
    await stop();
  }
}, 60_000);

it('follows the assignment back when Redis lost its newest record, though the revision number goes down', async () => {
  const before = await currentAssignment();
  const { manager, heartbeat, stop } = await startManager();
  try {
    const serving = (revision: number, what: string) =>
      reported(heartbeat.workerId, 'serving', revision, what);
    await serving(before.revision, 'the current assignment');
    const other = before.production.id === 'alpha' ? 'beta' : 'alpha';
    const promoted = await admin.promote({ ...actor, version: other, force: true });
    await serving(promoted.revision, 'the promotion');
    expect(routedTo(manager)).toBe(other);

    // A failover to a replica that never got the promotion: the record is the one before it again.
    await redis.set(redisKeys.modelAssignment(prefix), encodeAssignment(before));
    await serving(before.revision, 'the restored record');
    expect(routedTo(manager)).toBe(before.production.id);
  } finally {
    await stop();
  }
}, 60_000);

function routedTo(manager: ModelManager): string {
  const route = manager.route(`job-${Date.now()}`);
  route.release();
  route.releaseShadow();
  return route.answer.versionId;
}

it('tries a failed revision again from the heartbeat once, however long the load takes', async () => {
  const { manager, heartbeat, stop } = await startManager();
  const realNow = Date.now.bind(Date);
  const load = LoadedModel.load.bind(LoadedModel);
  const current = await store.current();
  const target = current?.production.id === 'alpha' ? 'beta' : 'alpha';
  // The first load fails (the Hub was down, say); the retry takes 6 heartbeats.
  const attempts: string[] = [];
  const spy = jest.spyOn(LoadedModel, 'load').mockImplementation(async (options) => {
    if (options.versionId !== target) return load(options);
    attempts.push(options.versionId);
    if (attempts.length === 1) throw new Error('the registry is unreachable');
    await new Promise((resolve) => setTimeout(resolve, 600));
    return load(options);
  });
  try {
    const promoted = await admin.promote({ ...actor, version: target, force: true });
    await reported(heartbeat.workerId, 'failed', promoted.revision, 'the failed load');
    // The backoff (30 s) is over.
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 31_000);
    await reported(heartbeat.workerId, 'serving', promoted.revision, 'the retried load');
    expect(routedTo(manager)).toBe(target);
    expect(attempts).toHaveLength(2);
  } finally {
    spy.mockRestore();
    jest.restoreAllMocks();
    await stop();
  }
}, 60_000);

it("loads a registry version named like MODEL_DIR's id, rather than take MODEL_DIR for it", async () => {
  await redis.del(redisKeys.modelAssignment(prefix), redisKeys.modelAssignmentHistory(prefix));
  const { manager, heartbeat, stop } = await startManager();
  try {
    const fromModelDir = manager.route('job-static');
    fromModelDir.release();
    fromModelDir.releaseShadow();
    expect(fromModelDir.answer).toMatchObject({ versionId: 'static', versionLocation: undefined });

    const promoted = await admin.promote({ ...actor, version: 'static', force: true });
    await reported(heartbeat.workerId, 'serving', promoted.revision, 'the promotion');
    const route = manager.route('job-static-2');
    route.release();
    route.releaseShadow();
    expect(route.answer.versionLocation).toBe(join(registry, 'static'));
    // The registry's graph (seed 3), not MODEL_DIR's (alpha, seed 1).
    expect(route.answer.info.version).not.toBe(fromModelDir.answer.info.version);
  } finally {
    await stop();
  }
}, 60_000);

it('opens the lanes of a new production again from the heartbeat after its first try failed', async () => {
  // Two lanes: a production loaded while another serves starts on one session and widens after the switch.
  const { manager, heartbeat, stop } = await startManager({
    INTRA_OP_THREADS: '2',
    INFERENCE_LANES: '2',
    INFERENCE_SOLO_LANE: 'off',
  });
  const realNow = Date.now.bind(Date);
  const widen = LoadedModel.prototype.widen;
  const tries: string[] = [];
  const spy = jest.spyOn(LoadedModel.prototype, 'widen').mockImplementation(async function (
    this: LoadedModel,
    superseded,
  ) {
    tries.push(this.versionId);
    if (tries.length === 1) throw new Error('out of memory for the lanes');
    return widen.call(this, superseded);
  });
  const production = () => {
    const route = manager.route(`job-${realNow()}`);
    route.release();
    route.releaseShadow();
    return route.answer;
  };
  try {
    const current = await store.current();
    const target = current?.production.id === 'alpha' ? 'beta' : 'alpha';
    const promoted = await admin.promote({ ...actor, version: target, force: true });
    await until(async () => (tries.length === 1 ? true : undefined), 'the first widening');
    // Serving on its one session meanwhile, and reported as serving: the lanes only add throughput.
    await reported(heartbeat.workerId, 'serving', promoted.revision, 'the switch');
    expect(production()).toMatchObject({ versionId: target, narrow: true, lanes: 1 });
    // Heartbeats before the backoff (30 s) is over do not try again.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(tries).toHaveLength(1);

    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 31_000);
    await until(async () => (production().lanes === 2 ? true : undefined), 'the lanes');
    expect(production()).toMatchObject({ versionId: target, narrow: false });
    expect(tries).toEqual([target, target]);
  } finally {
    spy.mockRestore();
    jest.restoreAllMocks();
    await stop();
  }
}, 60_000);

/** The registry's reference to a version, as the admin API names it. */
async function refOf(id: string) {
  const version = (await admin.versions()).find((info) => info.id === id);
  if (!version) throw new Error(`no version ${id}`);
  return { id: version.id, location: version.location };
}

it('follows a restored record back after a record that switched production but failed on its candidate', async () => {
  const before = await currentAssignment();
  const { manager, heartbeat, stop } = await startManager();
  const load = LoadedModel.load.bind(LoadedModel);
  const spy = jest.spyOn(LoadedModel, 'load').mockImplementation(async (options) => {
    if (options.versionId === 'static') throw new Error('the candidate cannot be read');
    return load(options);
  });
  try {
    await reported(heartbeat.workerId, 'serving', before.revision, 'the current assignment');
    await redis.del(redisKeys.modelServed(prefix));
    const other = await refOf(before.production.id === 'alpha' ? 'beta' : 'alpha');
    const candidate = await refOf('static');
    // One record names a new production and a candidate that fails to load.
    const failing = await store.write(() => ({
      production: other,
      candidate: { version: candidate, mode: 'shadow', share: 1 },
      change: { action: 'promote', actor: 'spec', reason: 'with a candidate', at: new Date().toISOString() },
    }));
    await reported(heartbeat.workerId, 'failed', failing.revision, 'the candidate to fail');
    expect(routedTo(manager)).toBe(other.id);
    // Production switched and serves, so a rollback may go back to it, although the record failed.
    expect((await store.servedVersions()).has(other)).toBe(true);

    // A failover loses that record: the one before it is back, and the worker follows it.
    await redis.set(redisKeys.modelAssignment(prefix), encodeAssignment(before));
    await reported(heartbeat.workerId, 'serving', before.revision, 'the restored record');
    expect(routedTo(manager)).toBe(before.production.id);
  } finally {
    spy.mockRestore();
    await stop();
  }
}, 60_000);

it('keeps a production loaded for a record superseded by one that names it too, instead of loading it twice', async () => {
  const before = await currentAssignment();
  const { manager, heartbeat, stop } = await startManager();
  const target = before.production.id === 'alpha' ? 'beta' : 'alpha';
  const held = holdLoadsOf(target);
  try {
    await admin.promote({ ...actor, version: target, force: true });
    await until(async () => (held.loads.includes(target) ? true : undefined), `the load of ${target}`);
    // While it loads: a shadow beside it, a newer record with the same production.
    const shadowed = await admin.setCandidate({ ...actor, version: 'static', mode: 'shadow', share: 0.5 });
    held.release();
    await reported(heartbeat.workerId, 'serving', shadowed.revision, 'the shadow');
    expect(routedTo(manager)).toBe(target);
    expect(held.loads.filter((id) => id === target)).toHaveLength(1);
  } finally {
    held.restore();
    await admin.clearCandidate(actor).catch(() => undefined);
    await stop();
  }
}, 60_000);

const HUB_TOKEN = 'hf_ModelManagerSpecToken';

/**
 * beta uploaded to a fake Hub and promoted from there, once the worker serves what `before` names; resolves when the
 * worker is downloading the promoted graph, whose download hangs (a big pull on a slow link, still going).
 */
async function promoteWithHangingDownload(hub: FakeHub, workerId: string, before: { revision: number }) {
  await reported(workerId, 'serving', before.revision, 'the current assignment');
  const repo = 'acme/sentiment';
  const { commit } = await uploadModelVersion({
    endpoint: hub.endpoint,
    token: HUB_TOKEN,
    repo,
    branch: 'main',
    dir: join(registry, 'beta'),
    message: 'beta, on the Hub',
  });
  const hubAdmin = new ModelAdmin(
    store,
    openModelRegistry(`hf://models/${repo}`, { endpoint: hub.endpoint, token: HUB_TOKEN }),
  );
  const graphDownload = ({ server, method }: { server: string; method: string }) =>
    server === 'cdn' && method === 'GET';
  hub.delayNext(1, 120_000, { match: graphDownload });
  const promoted = await hubAdmin.promote({ ...actor, version: commit, force: true });
  await until(
    async () => (hub.requests.some(graphDownload) ? true : undefined),
    "the download of the promoted version's graph",
  );
  expect(await ownStatus(workerId)).toMatchObject({ state: 'loading', revision: promoted.revision });
  return promoted;
}

it("calls a version's Hub download off when a rollback comes, instead of waiting for it", async () => {
  const hub = await FakeHub.start();
  const before = await currentAssignment();
  const { manager, heartbeat, metrics, stop } = await startManager({
    HF_ENDPOINT: hub.endpoint,
    HF_TOKEN: HUB_TOKEN,
  });
  try {
    await promoteWithHangingDownload(hub, heartbeat.workerId, before);

    const rolledBack = await admin.rollback(actor);
    expect(rolledBack.production).toEqual(before.production);
    // Within seconds: not after the pull's 30 s stall timeout and a retry.
    const status = await reported(heartbeat.workerId, 'serving', rolledBack.revision, 'the rollback', 10_000);
    expect(routedTo(manager)).toBe(before.production.id);
    // Given up for the newer record, not refused: no failure reported or counted.
    expect(status.error).toBeUndefined();
    const reloads = await metrics.registry.metrics();
    expect(reloads).toMatch(/^sentiment_model_reloads_total{outcome="success"[^}]*} [1-9]/m);
    expect(reloads).toMatch(/^sentiment_model_reloads_total{outcome="failed"[^}]*} 0$/m);
  } finally {
    await stop();
    await hub.close();
  }
}, 60_000);

it('stops without waiting for a Hub download in progress', async () => {
  const hub = await FakeHub.start();
  const before = await currentAssignment();
  const { heartbeat, stop } = await startManager({ HF_ENDPOINT: hub.endpoint, HF_TOKEN: HUB_TOKEN });
  try {
    await promoteWithHangingDownload(hub, heartbeat.workerId, before);

    const stopping = performance.now();
    await stop();
    expect(performance.now() - stopping).toBeLessThan(5_000); // not the pull's 30 s stall timeout
  } finally {
    await hub.close();
    await admin.promote({ ...actor, version: before.production.id, force: true });
  }
}, 60_000);
