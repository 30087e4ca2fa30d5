/**
 * The worker's model-pull init container, run for real: its script from the rendered manifest, the model-pull CLI
 * bundled with the Dockerfile's own esbuild command, against a fake Hub on loopback. A matching pin fills the model
 * folder; a wrong sha256 fails the container, so the worker never starts on the wrong graph.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { FakeHub } from '@reputation-monitor/fake-hub';
import { container, overlayObjects } from './fixtures';
import { readWorkspaceFile, WORKSPACE_ROOT } from './workspace';

const DOCKERFILE = 'deploy/kubernetes/images/model-pull/Dockerfile';
const GRAPH = Buffer.alloc(200_000, 7);
const FILES: Record<string, Buffer> = {
  'onnx/model.onnx': GRAPH,
  'config.json': Buffer.from('{"id2label":{"0":"negative","1":"neutral","2":"positive"}}'),
  'tokenizer.json': Buffer.from('{"model":{"type":"BPE"}}'),
  'tokenizer_config.json': Buffer.from('{"model_max_length":512}'),
};
const sha256 = (content: Buffer) => createHash('sha256').update(content).digest('hex');

jest.setTimeout(60_000);

/** The Dockerfile's esbuild invocation, writing to `outfile` instead of the image's /out. */
function bundleLikeTheDockerfile(outfile: string): void {
  const run = readWorkspaceFile(DOCKERFILE)
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .find((line) => line.startsWith('RUN ') && line.includes('esbuild'));
  if (!run) throw new Error(`${DOCKERFILE} has no esbuild step`);
  const [command, ...args] = run.slice(4).trim().split(/\s+/);
  const replaced = args.map((arg) => (arg.startsWith('--outfile=') ? `--outfile=${outfile}` : arg));
  expect(replaced).toContain(`--outfile=${outfile}`);
  execFileSync(join(WORKSPACE_ROOT, command), [...replaced, '--log-level=warning'], { cwd: WORKSPACE_ROOT });
}

describe('the model-pull init container', () => {
  let workDir: string;
  let bundle: string;
  let hub: FakeHub;
  let commit: string;
  const init = container(overlayObjects('production'), 'Deployment', 'inference-worker', 'model-pull');
  const manifestEnv = Object.fromEntries(
    init.env.flatMap((entry) => (entry.value === undefined ? [] : [[entry.name, entry.value]])),
  );

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), 'k8s-model-pull-'));
    bundle = join(workDir, 'model-pull.js');
    bundleLikeTheDockerfile(bundle);
    hub = await FakeHub.start();
    commit = hub.seed('model', manifestEnv.MODEL_REPO, FILES);
  });

  afterAll(async () => {
    await hub?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  async function runInit(outDir: string, pin: { revision: string; sha256: string }) {
    expect(init.command).toEqual(['/bin/sh', '-c']);
    const script = (init.args as string[])[0];
    expect(script).toContain('node /app/model-pull.js');
    try {
      const { stdout, stderr } = await promisify(execFile)(
        '/bin/sh',
        ['-c', script.replace('/app/model-pull.js', bundle)],
        {
          env: {
            PATH: process.env.PATH,
            ...manifestEnv,
            MODEL_REVISION: pin.revision,
            MODEL_SHA256: pin.sha256,
            MODEL_OUT: outDir,
            HF_ENDPOINT: hub.endpoint,
          },
        },
      );
      return { code: 0, output: stdout + stderr };
    } catch (error) {
      const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
      return { code, output: stdout + stderr };
    }
  }

  it("builds on a base pinned by tag and digest, and runs as the image's non-root user", () => {
    const dockerfile = readWorkspaceFile(DOCKERFILE);
    const bases = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((match) => match[1]);
    expect(bases).toHaveLength(2);
    for (const base of bases) expect(base).toMatch(/^node:\d+\.\d+\.\d+-[\w-]+@sha256:[0-9a-f]{64}$/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).not.toMatch(/COPY .*models/);
  });

  it('pulls the pinned commit into MODEL_OUT and accepts the graph whose sha256 is pinned', async () => {
    const outDir = join(workDir, 'ok', basename(manifestEnv.MODEL_OUT));
    const run = await runInit(outDir, { revision: commit, sha256: sha256(GRAPH) });

    expect(run).toMatchObject({ code: 0 });
    expect(run.output).toContain(`${outDir}/onnx/model.onnx: OK`);
    expect(readFileSync(join(outDir, 'onnx/model.onnx'))).toEqual(GRAPH);
    expect(JSON.parse(readFileSync(join(outDir, '.model-pull.json'), 'utf8'))).toMatchObject({
      revision: commit,
    });
  });

  it('fails, so the worker never starts, when the graph is not the pinned one', async () => {
    const outDir = join(workDir, 'bad', basename(manifestEnv.MODEL_OUT));
    const run = await runInit(outDir, { revision: commit, sha256: sha256(Buffer.from('another graph')) });

    expect(run.code).not.toBe(0);
    expect(run.output).toContain(`${outDir}/onnx/model.onnx: FAILED`);
  });

  it('fails on the placeholder pin the overlays ship with', async () => {
    const outDir = join(workDir, 'placeholder', basename(manifestEnv.MODEL_OUT));
    const run = await runInit(outDir, {
      revision: manifestEnv.MODEL_REVISION,
      sha256: manifestEnv.MODEL_SHA256,
    });

    expect(run.code).not.toBe(0);
    expect(existsSync(join(outDir, 'onnx/model.onnx'))).toBe(false);
  });
});
