import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FakeHub } from '@reputation-monitor/fake-hub';
import { DEFAULT_REPO } from '@reputation-monitor/model-registry';

const CLI = join(__dirname, 'cli.ts');
const TSX = join(__dirname, '../../../node_modules/.bin/tsx');
const TOKEN = 'hf_CliTokenThatMustNeverBePrinted';
// The layout of a model repo; pulling never looks inside the files.
const REPO_FILES: Record<string, Buffer> = {
  'onnx/model.onnx': Buffer.alloc(300_000, 1),
  'onnx/model_quantized.onnx': Buffer.alloc(100_000, 2),
  'config.json': Buffer.from('{"id2label":{"0":"negative","1":"neutral","2":"positive"}}'),
  'tokenizer.json': Buffer.from('{"model":{"type":"BPE"}}'),
  'tokenizer_config.json': Buffer.from('{"model_max_length":512}'),
  'README.md': Buffer.from('# model\n'),
};

// Each test starts tsx, which takes a second, more on a busy machine.
jest.setTimeout(30_000);

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI asynchronously: the fake Hub answers from this process. */
async function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  try {
    const { stdout, stderr } = await promisify(execFile)(TSX, [CLI, ...args], {
      env: { ...process.env, HF_TOKEN: '', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr };
  }
}

describe('model-pull CLI', () => {
  let workDir: string;
  let hub: FakeHub;
  let commit: string;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'model-pull-cli-'));
    hub = await FakeHub.start({ tokens: [TOKEN] });
    commit = hub.seed('model', DEFAULT_REPO, REPO_FILES, { private: true });
  });

  afterAll(async () => {
    await hub?.close();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('prints the usage and exits 2 on a bad flag', async () => {
    const run = await runCli(['--variant', 'fp16']);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--variant must be fp32 or int8, got "fp16"');
    expect(run.stderr).toContain('Usage: npm run model:pull -- [--repo OWNER/NAME]');
  });

  it('pulls from HF_ENDPOINT with HF_TOKEN, showing progress on stderr but never the token', async () => {
    const outDir = join(workDir, 'pulled');

    const run = await runCli(['--revision', 'main', '--variant', 'int8', '--out', outDir], {
      HF_ENDPOINT: hub.endpoint,
      HF_TOKEN: TOKEN,
    });

    expect(run).toMatchObject({ code: 0, stdout: '' });
    expect(run.stderr).toMatch(/^onnx\/model_quantized\.onnx \[#+\] 100% .* done$/m);
    expect(run.stderr).toContain(`Model ready in ${outDir}`);
    expect(run.stderr).not.toContain(TOKEN);
    expect(JSON.parse(await readFile(join(outDir, '.model-pull.json'), 'utf8'))).toMatchObject({
      revision: commit,
      variant: 'int8',
    });
    expect(hub.requests.every(({ server, authorized }) => server === 'cdn' || authorized)).toBe(true);
  });
});
