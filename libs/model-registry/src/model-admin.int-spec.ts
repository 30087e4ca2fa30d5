import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import IORedis from 'ioredis';
import { redisKeys, type CandidateMode, type WorkerModelStatus } from '@reputation-monitor/contracts';
import { AssignmentStore, ModelAdmin, ModelAdminError, openModelRegistry, type ModelRegistry } from './index';
import { gateReport, graphBytes, versionOf, writeModelDir } from './test/model-files';

// Real Redis; a key prefix per run keeps runs apart.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `test-model-admin-${process.pid}-${Date.now().toString(36)}`;
const redis = new IORedis(REDIS_URL);
const ops = { actor: 'cli:ops', reason: 'release 42' };

let root: string;
let registry: ModelRegistry;
let store: AssignmentStore;
let admin: ModelAdmin;
const logged: string[] = [];
const location = (id: string) => join(root, 'registry', id);
const ref = (id: string) => ({ id, location: location(id) });

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'model-admin-'));
  const graphs = [1, 2, 3, 4, 5].map((seed) => graphBytes(seed));
  // v1, v2, v5: passed their gate; v3: no gate report; v4: v1's report copied beside it.
  await writeModelDir(location('v1'), { graph: graphs[0], gate: gateReport(versionOf(graphs[0])) });
  await writeModelDir(location('v2'), { graph: graphs[1], gate: gateReport(versionOf(graphs[1])) });
  await writeModelDir(location('v3'), { graph: graphs[2] });
  await writeModelDir(location('v4'), { graph: graphs[3], gate: gateReport(versionOf(graphs[0])) });
  await writeModelDir(location('v5'), { graph: graphs[4], gate: gateReport(versionOf(graphs[4])) });
  await writeModelDir(location('v6'), {
    graph: graphBytes(6),
    gate: gateReport(versionOf(graphBytes(6)), 'fail'),
  });
  registry = openModelRegistry(join(root, 'registry'), { endpoint: 'http://127.0.0.1:9' });
});

beforeEach(() => {
  store = new AssignmentStore(redis, prefix);
  admin = new ModelAdmin(store, registry, { log: (line) => logged.push(line) });
  logged.length = 0;
});

async function clear(): Promise<void> {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
}

afterEach(clear);
afterAll(async () => {
  await clear();
  await redis.quit();
  await rm(root, { recursive: true, force: true });
});

async function refusal(promise: Promise<unknown>): Promise<ModelAdminError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof ModelAdminError))
    throw new Error(`expected a ModelAdminError, got ${String(error)}`);
  return error;
}

describe('ModelAdmin.promote', () => {
  it('initializes the assignment with a gated version, then promotes the next', async () => {
    const first = await admin.promote({ ...ops, version: 'v1' });
    const second = await admin.promote({ actor: 'key:abc123', reason: 'better on holdout', version: 'v2' });

    expect(first).toMatchObject({
      revision: 1,
      production: ref('v1'),
      change: { action: 'initialize', ...ops },
    });
    expect(first.change.forced).toBeUndefined();
    expect(first.candidate).toBeUndefined();
    expect(second).toMatchObject({
      revision: 2,
      production: ref('v2'),
      change: { action: 'promote', actor: 'key:abc123', reason: 'better on holdout' },
    });
    expect(Date.parse(second.change.at)).toBeLessThanOrEqual(Date.now());
    expect(await store.current()).toEqual(second);
  });

  it.each([
    ['without a gate report', 'v3', 'no readable gate report'],
    ['with a report copied from another model', 'v4', 'a report copied from another model does not count'],
    ['whose gate failed', 'v6', 'the gate did not pass'],
  ])('refuses a version %s, and promotes it with force, recorded', async (_, version, why) => {
    const refused = await refusal(admin.promote({ ...ops, version }));
    expect(refused.kind).toBe('gate_not_passed');
    expect(refused.message).toContain(why);
    expect(await store.current()).toBeUndefined();

    const forced = await admin.promote({ ...ops, version, force: true });

    expect(forced).toMatchObject({
      production: ref(version),
      change: { action: 'initialize', forced: true },
    });
    expect((await store.history())[0].change.forced).toBe(true);
    expect(logged.join('\n')).toContain(`promoting ${version} without a passing gate (forced by cli:ops)`);
  });

  it('does not mark a forced promotion of a gated version as forced', async () => {
    expect((await admin.promote({ ...ops, version: 'v1', force: true })).change.forced).toBeUndefined();
  });

  it('refuses an unknown version, the current production, and a change without actor or reason', async () => {
    await admin.promote({ ...ops, version: 'v1' });

    expect((await refusal(admin.promote({ ...ops, version: 'v9' }))).kind).toBe('unknown_version');
    const same = await refusal(admin.promote({ ...ops, version: 'v1' }));
    expect(same).toMatchObject({ kind: 'invalid', message: 'v1 is already production (revision 1)' });
    for (const input of [
      { actor: '', reason: 'x', version: 'v2' },
      { actor: 'cli:ops', reason: '   ', version: 'v2' },
      { actor: 'cli:ops', reason: 'x', version: '' },
      { actor: 'cli:ops', reason: 'x'.repeat(1_001), version: 'v2' },
    ]) {
      expect((await refusal(admin.promote(input))).kind).toBe('invalid');
    }
    expect((await store.current())?.revision).toBe(1);
  });

  it('clears the candidate when it is the version promoted, and keeps it otherwise', async () => {
    await admin.promote({ ...ops, version: 'v1' });
    await admin.setCandidate({ ...ops, version: 'v2', mode: 'canary', share: 0.1 });

    const other = await admin.promote({ ...ops, version: 'v5' });
    expect(other.candidate).toEqual({ version: ref('v2'), mode: 'canary', share: 0.1 });

    const promoted = await admin.promote({ ...ops, version: 'v2' });
    expect(promoted).toMatchObject({ revision: 4, production: ref('v2') });
    expect(promoted.candidate).toBeUndefined();
  });
});

describe('ModelAdmin.rollback', () => {
  it('returns to the production before the current one, clearing the candidate, and never back', async () => {
    await admin.promote({ ...ops, version: 'v1' });
    await admin.promote({ ...ops, version: 'v2' });
    await admin.setCandidate({ ...ops, version: 'v5', mode: 'shadow', share: 0.5 });
    await admin.clearCandidate(ops);
    await admin.setCandidate({ ...ops, version: 'v5', mode: 'shadow', share: 0.5 });

    const rolledBack = await admin.rollback({ actor: 'cli:oncall', reason: 'error rate up' });

    expect(rolledBack).toMatchObject({
      revision: 6,
      production: ref('v1'),
      change: { action: 'rollback', actor: 'cli:oncall', reason: 'error rate up' },
    });
    expect(rolledBack.candidate).toBeUndefined();
    // v2 is what the rollback left: a second rollback does not undo the first, and v1 has nothing before it.
    const again = await refusal(admin.rollback(ops));
    expect(again).toMatchObject({ kind: 'no_previous', message: expect.stringContaining('promote one') });
    expect((await admin.history(2)).map((record) => [record.revision, record.change.action])).toEqual([
      [6, 'rollback'],
      [5, 'set-candidate'],
    ]);
    expect(await admin.history(0)).toEqual([]);
  });

  it('goes one version further back with each rollback, and back to a version promoted again', async () => {
    for (const version of ['v1', 'v2', 'v5']) {
      await admin.promote({ ...ops, version });
      await store.markServed(ref(version));
    }
    expect((await admin.rollback(ops)).production).toEqual(ref('v2'));
    expect((await admin.rollback(ops)).production).toEqual(ref('v1'));
    expect((await refusal(admin.rollback(ops))).kind).toBe('no_previous');
    // Promoted again, a version rolled back from is one to go back to.
    await admin.promote({ ...ops, version: 'v5' });
    await admin.promote({ ...ops, version: 'v2' });
    expect((await admin.rollback(ops)).production).toEqual(ref('v5'));
  });

  it('skips versions no worker served (failed promotions), back to the one that served', async () => {
    await admin.promote({ ...ops, version: 'v1' });
    await store.markServed(ref('v1')); // the workers loaded v1 ...
    await admin.promote({ ...ops, version: 'v2' }); // ... and refused v2, then v5
    await admin.promote({ ...ops, version: 'v5' });

    expect((await admin.rollback(ops)).production).toEqual(ref('v1'));
    expect(logged).toContain('rollback skips v2: no worker ever served them as production');
    // Nothing left: v5 is what the rollback left, v2 never served, v1 has nothing before it.
    expect((await refusal(admin.rollback(ops))).kind).toBe('no_previous');
    // A version is its id and its location: v2 served from elsewhere is another version.
    await store.markServed({ id: 'v2', location: '/elsewhere/v2' });
    expect((await store.servedVersions()).has(ref('v2'))).toBe(false);
    expect((await refusal(admin.rollback(ops))).kind).toBe('no_previous');
  });

  it('goes back to the newest other production while no worker ever reported serving one', async () => {
    await admin.promote({ ...ops, version: 'v1' });
    await admin.promote({ ...ops, version: 'v2' });
    await admin.promote({ ...ops, version: 'v5' });
    expect((await admin.rollback(ops)).production).toEqual(ref('v2'));
  });

  it('refuses without a record, and without an earlier production', async () => {
    expect((await refusal(admin.rollback(ops))).kind).toBe('no_assignment');

    await admin.promote({ ...ops, version: 'v1' });
    await admin.setCandidate({ ...ops, version: 'v2', mode: 'canary', share: 1 });

    const refused = await refusal(admin.rollback(ops));
    expect(refused).toMatchObject({ kind: 'no_previous', message: expect.stringContaining('before v1') });
    expect((await refusal(admin.rollback({ actor: 'cli:ops', reason: '' }))).kind).toBe('invalid');
  });
});

describe('ModelAdmin candidates', () => {
  it('sets a shadow or canary candidate, gated or not, reporting its gate, and clears it', async () => {
    await admin.promote({ ...ops, version: 'v1' });

    const shadow = await admin.setCandidate({ ...ops, version: 'v3', mode: 'shadow', share: 1 });
    expect(shadow).toMatchObject({
      revision: 2,
      production: ref('v1'),
      candidate: { version: ref('v3'), mode: 'shadow', share: 1 },
      change: { action: 'set-candidate' },
    });
    expect(logged.at(-1)).toMatch(/^candidate v3 \(shadow, share 1\): v3 has no readable gate report/);

    const canary = await admin.setCandidate({ ...ops, version: 'v2', mode: 'canary', share: 0.05 });
    expect(canary.candidate).toEqual({ version: ref('v2'), mode: 'canary', share: 0.05 });
    expect(logged.at(-1)).toContain('the gate passed');

    const cleared = await admin.clearCandidate(ops);
    expect(cleared).toMatchObject({
      revision: 4,
      production: ref('v1'),
      change: { action: 'clear-candidate' },
    });
    expect(cleared.candidate).toBeUndefined();
    expect((await refusal(admin.clearCandidate(ops))).kind).toBe('invalid');
  });

  it.each([
    ['an unknown mode', { mode: 'blue-green' as CandidateMode, share: 0.1 }, 'mode must be shadow or canary'],
    ['a share of 0', { mode: 'canary' as CandidateMode, share: 0 }, 'share must be a number in (0, 1]'],
    ['a share above 1', { mode: 'canary' as CandidateMode, share: 1.5 }, 'share must be a number in (0, 1]'],
    ['a share that is no number', { mode: 'shadow' as CandidateMode, share: Number.NaN }, 'share must be'],
  ])('refuses %s', async (_, input, message) => {
    await admin.promote({ ...ops, version: 'v1' });

    const refused = await refusal(admin.setCandidate({ ...ops, version: 'v2', ...input }));

    expect(refused).toMatchObject({ kind: 'invalid', message: expect.stringContaining(message) });
  });

  it('refuses production as candidate, an unknown version, and a candidate before any production', async () => {
    const candidate = { ...ops, mode: 'canary' as const, share: 0.2 };
    expect((await refusal(admin.setCandidate({ ...candidate, version: 'v2' }))).kind).toBe('no_assignment');
    expect((await refusal(admin.clearCandidate(ops))).kind).toBe('no_assignment');

    await admin.promote({ ...ops, version: 'v1' });

    expect(await refusal(admin.setCandidate({ ...candidate, version: 'v1' }))).toMatchObject({
      kind: 'invalid',
      message: expect.stringContaining('a candidate must differ from it'),
    });
    expect((await refusal(admin.setCandidate({ ...candidate, version: 'nope' }))).kind).toBe(
      'unknown_version',
    );
    expect((await refusal(admin.setCandidate({ ...candidate, actor: ' ', version: 'v2' }))).kind).toBe(
      'invalid',
    );
    expect((await store.current())?.revision).toBe(1);
  });
});

describe('ModelAdmin.status and versions', () => {
  const worker = (workerId: string, revision: number, switchedAt: string): WorkerModelStatus => ({
    workerId,
    revision,
    state: 'serving',
    serving: [
      { id: 'v2', location: location('v2'), modelVersion: versionOf(graphBytes(2)), role: 'production' },
    ],
    switchedAt,
    at: switchedAt,
  });

  it('is converged once every live worker serves the current revision, with the switch time', async () => {
    expect(await admin.status()).toEqual({
      assignment: undefined,
      workers: [],
      converged: false,
      switchSeconds: null,
    });
    await admin.promote({ ...ops, version: 'v1' });
    const current = await admin.promote({ ...ops, version: 'v2' });
    const changedAt = Date.parse(current.change.at);
    const now = Date.now();
    await redis.zadd(redisKeys.workerHeartbeats(prefix), now, 'w1', now, 'w2', now - 60_000, 'gone');
    await store.reportStatus(worker('w1', 2, new Date(changedAt + 1_500).toISOString()));
    await store.reportStatus(worker('w2', 1, new Date(changedAt - 10_000).toISOString()));
    await store.reportStatus(worker('gone', 1, new Date(changedAt - 10_000).toISOString()));

    const switching = await admin.status();
    expect(switching).toMatchObject({ converged: false, switchSeconds: null });
    expect(switching.workers.map((entry) => entry.workerId)).toEqual(['w1', 'w2']);

    await store.reportStatus({
      ...worker('w2', 2, new Date(changedAt + 2_250).toISOString()),
      state: 'loading',
    });
    expect((await admin.status()).converged).toBe(false);
    await store.reportStatus(worker('w2', 2, new Date(changedAt + 2_250).toISOString()));

    expect(await admin.status()).toMatchObject({ assignment: current, converged: true, switchSeconds: 2.25 });

    // A worker reporting the revision number while serving another version (it applied a record Redis lost,
    // whose number the current one reuses) is not converged.
    await store.reportStatus({
      ...worker('w2', 2, new Date(changedAt + 2_250).toISOString()),
      serving: [
        { id: 'v1', location: location('v1'), modelVersion: versionOf(graphBytes(1)), role: 'production' },
      ],
    });
    expect((await admin.status()).converged).toBe(false);
    // Nor is one serving the same id from elsewhere: MODEL_DIR (no location), or another registry.
    for (const elsewhere of [undefined, '/another/registry/v2']) {
      await store.reportStatus({
        ...worker('w2', 2, new Date(changedAt + 2_250).toISOString()),
        serving: [
          {
            id: 'v2',
            ...(elsewhere && { location: elsewhere }),
            modelVersion: versionOf(graphBytes(2)),
            role: 'production',
          },
        ],
      });
      expect((await admin.status()).converged).toBe(false);
    }
  });

  it('lists the registry with the roles of production and candidate', async () => {
    await admin.promote({ ...ops, version: 'v1' });
    await admin.setCandidate({ ...ops, version: 'v2', mode: 'shadow', share: 0.3 });

    const roles = Object.fromEntries((await admin.versions()).map((info) => [info.id, info.roles]));

    expect(roles).toEqual({
      v1: ['production'],
      v2: ['candidate'],
      v3: [],
      v4: [],
      v5: [],
      v6: [],
    });
  });
});
