import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeGoldenSet } from '@reputation-monitor/app-harness';
import { connectRedis } from './support/redis';
import { REDIS_URL, SHARED_DATA, TINY_MODEL_DIR, WORKSPACE_ROOT } from './support/paths';

/** `npm run eval:golden`, as .github/workflows/retrain.yml runs it, on the tiny synthetic model. */
function evalGolden(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      join(WORKSPACE_ROOT, 'node_modules/.bin/tsx'),
      ['--tsconfig', 'tsconfig.base.json', 'tools/golden-eval/src/cli.ts', '--skip-build', ...args],
      { cwd: WORKSPACE_ROOT, env: { ...process.env, REDIS_URL, GITHUB_STEP_SUMMARY: '' } },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const GOLDEN_LINES = 40;
let tmp: string;
let golden: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'golden-eval-e2e-'));
  golden = writeGoldenSet(join(tmp, 'golden.jsonl'), {
    sharedData: SHARED_DATA,
    split: 'test',
    count: GOLDEN_LINES,
  });
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('npm run eval:golden (the retrain workflow’s evaluation)', () => {
  it('scores the golden set through a real worker and queue, writes the report and leaves no keys behind', async () => {
    const out = join(tmp, 'report.json');
    const result = await evalGolden(['--model-dir', TINY_MODEL_DIR, '--golden', golden, '--out', out]);
    expect({ code: result.code, stderr: result.code === 0 ? '' : result.stderr }).toEqual({
      code: 0,
      stderr: '',
    });

    const report = JSON.parse(readFileSync(out, 'utf8'));
    expect(report.quality.golden).toMatchObject({ status: 'measured', count: GOLDEN_LINES });
    const confusion: number[][] = report.quality.golden.confusion;
    expect(confusion.flat().reduce((a, b) => a + b, 0)).toBe(GOLDEN_LINES);
    expect(result.stdout).toContain(`${GOLDEN_LINES} examples`);
    expect(result.stdout).toContain(`| accuracy | ${report.quality.golden.accuracy.toFixed(4)} |`);

    const prefix = /key prefix (\S+)/.exec(result.stderr)?.[1];
    expect(prefix).toMatch(/^golden-eval-[0-9a-f]{8}$/);
    const redis = connectRedis();
    try {
      expect(await redis.keys(`${prefix}:*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  }, 120_000);

  it('fails, saying why, when macro recall is below --min-macro-recall', async () => {
    const out = join(tmp, 'floor.json');
    const result = await evalGolden([
      '--model-dir',
      TINY_MODEL_DIR,
      '--golden',
      golden,
      '--out',
      out,
      '--min-macro-recall',
      '0.99',
    ]);
    const macroRecall = JSON.parse(readFileSync(out, 'utf8')).quality.golden.macroRecall;
    expect(macroRecall).toBeLessThan(0.99);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`macro recall ${macroRecall.toFixed(4)} is below the floor 0.9900`);
  }, 120_000);

  it('refuses bad arguments before starting anything', async () => {
    const missing = await evalGolden(['--model-dir', TINY_MODEL_DIR, '--golden', join(tmp, 'nope.jsonl')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`golden set file ${join(tmp, 'nope.jsonl')} does not exist`);
    const floor = await evalGolden(['--golden', golden, '--min-macro-recall', 'high']);
    expect(floor.code).toBe(1);
    expect(floor.stderr).toContain('--min-macro-recall must be a number in 0..1, got "high"');
    const noModel = await evalGolden(['--golden', golden, '--model-dir', join(tmp, 'no-model')]);
    expect(noModel.stderr).toContain(`no model at ${join(tmp, 'no-model')}`);
  }, 60_000);
});
