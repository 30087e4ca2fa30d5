import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import IORedis from 'ioredis';
import { AssignmentStore } from '@reputation-monitor/model-registry';

// The CLI against a local registry of model directories (their graphs are random bytes: nothing loads them
// here) and the real Redis under a prefix of its own.
const ROOT = resolve(__dirname, '../../..');
const registry = mkdtempSync(join(tmpdir(), 'model-admin-'));
const prefix = `test-model-admin-${process.pid}-${Date.now().toString(36)}`;
const redis = new IORedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');

function version(name: string, verdict?: 'pass' | 'fail'): void {
  const dir = join(registry, name);
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  const graph = randomBytes(256);
  writeFileSync(join(dir, 'onnx/model.onnx'), graph);
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ id2label: { 0: 'negative', 1: 'neutral', 2: 'positive' } }),
  );
  if (verdict) {
    const candidateVersion = `fp32-${createHash('sha256').update(graph).digest('hex').slice(0, 12)}`;
    writeFileSync(
      join(dir, 'gate-report.json'),
      JSON.stringify({
        verdict,
        thresholds: { minGain: 0.01, maxP: 0.01, maxRegression: 0.01 },
        reasons: ['made by the test'],
        createdAt: new Date().toISOString(),
        candidate: { version: candidateVersion },
      }),
    );
  }
}

function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      join(ROOT, 'node_modules/.bin/tsx'),
      ['--tsconfig', join(ROOT, 'tsconfig.base.json'), join(__dirname, 'cli.ts'), ...args],
      { cwd: ROOT, env: { ...process.env, MODEL_REGISTRY: registry, QUEUE_PREFIX: prefix, ...env } },
      (error, stdout, stderr) => done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(() => {
  version('first', 'pass');
  version('second', 'pass');
  version('ungated');
});

afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  rmSync(registry, { recursive: true, force: true });
});

describe('npm run model:*', () => {
  it('promotes gated versions, shadows one, rolls back, and keeps who and why', async () => {
    const first = await cli(['promote', 'first', '--reason', 'baseline']);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({
      revision: 1,
      production: { id: 'first' },
      change: { action: 'initialize', reason: 'baseline', actor: expect.stringMatching(/^cli:/) },
    });
    const shadow = await cli([
      'candidate',
      'second',
      '--mode',
      'shadow',
      '--share',
      '0.25',
      '--reason',
      'try it',
    ]);
    expect(JSON.parse(shadow.stdout)).toMatchObject({
      revision: 2,
      candidate: { version: { id: 'second' }, mode: 'shadow', share: 0.25 },
    });
    const promoted = await cli(['promote', 'second', '--reason', 'it did well']);
    expect(JSON.parse(promoted.stdout)).toMatchObject({ revision: 3, production: { id: 'second' } });
    expect(JSON.parse(promoted.stdout).candidate).toBeUndefined();
    const back = await cli(['rollback', '--reason', 'it did not']);
    expect(JSON.parse(back.stdout)).toMatchObject({
      revision: 4,
      production: { id: 'first' },
      change: { action: 'rollback' },
    });
    const status = JSON.parse((await cli(['status', '--history', '10'])).stdout);
    expect(status.history.map((entry: { revision: number }) => entry.revision)).toEqual([4, 3, 2, 1]);
    const listed = JSON.parse((await cli(['versions'])).stdout);
    expect(listed.find((v: { id: string }) => v.id === 'first').roles).toEqual(['production']);
  });

  it('refuses what it should, with exit code 2 and a reason', async () => {
    const ungated = await cli(['promote', 'ungated', '--reason', 'no gate']);
    expect(ungated).toMatchObject({ code: 2, stderr: expect.stringContaining('(gate_not_passed)') });
    const forced = await cli(['promote', 'ungated', '--reason', 'we know', '--force']);
    expect(JSON.parse(forced.stdout).change.forced).toBe(true);
    expect(await cli(['promote', 'missing', '--reason', 'x'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('(unknown_version)'),
    });
    expect(await cli(['promote', 'first'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--reason is required'),
    });
    expect(
      await cli(['candidate', 'first', '--mode', 'mirror', '--share', '1', '--reason', 'x']),
    ).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--mode must be shadow or canary'),
    });
    expect(
      await cli(['candidate', 'first', '--mode', 'canary', '--share', '0', '--reason', 'x']),
    ).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--share must be a number in (0, 1]'),
    });
    expect((await cli(['deploy'])).code).toBe(2);
  });

  it('says which versions a rollback skips, and exits 3 for a change written but not confirmed', async () => {
    const own = { QUEUE_PREFIX: `${prefix}-skips` };
    const store = new AssignmentStore(redis, own.QUEUE_PREFIX);
    expect((await cli(['promote', 'first', '--reason', 'baseline'], own)).code).toBe(0);
    await store.markServed({ id: 'first', location: join(registry, 'first') }); // as a worker does
    expect((await cli(['promote', 'second', '--reason', 'refused by every worker'], own)).code).toBe(0);
    expect((await cli(['promote', 'ungated', '--reason', 'refused too', '--force'], own)).code).toBe(0);

    const back = await cli(['rollback', '--reason', 'back to what served'], own);
    expect(JSON.parse(back.stdout)).toMatchObject({ revision: 4, production: { id: 'first' } });
    expect(back.stderr).toContain('rollback skips second: no worker ever served them as production');

    // This Redis has no replica to confirm it.
    const unconfirmed = await cli(['promote', 'second', '--reason', 'again'], {
      ...own,
      REDIS_WAIT_REPLICAS: '1',
      REDIS_WAIT_TIMEOUT_MS: '50',
    });
    expect(unconfirmed).toMatchObject({
      code: 3,
      stderr: expect.stringContaining('revision 5 (promote) is written on the Redis primary'),
    });
    expect(JSON.parse((await cli(['status'], own)).stdout).assignment).toMatchObject({
      revision: 5,
      production: { id: 'second' },
    });
  });
});
