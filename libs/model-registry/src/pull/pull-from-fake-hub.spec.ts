import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { uploadFiles } from '@huggingface/hub';
import { FakeHub, gitBlobOid } from '@reputation-monitor/fake-hub';
import { uploadModelVersion } from '../hub-upload';
import { MANIFEST_FILE, pullModel, type PullManifest } from './pull';
import { CapturedOutput } from './test/captured-output';

/**
 * model-pull against the stateful fake Hub: versions committed through @huggingface/hub (as the retraining
 * pipeline publishes them) must pull back byte for byte, by branch and by commit.
 */
const TOKEN = 'hf_PullTestTokenNeverPrinted';
const REPO = 'acme/sentiment';
const MODEL_FILES: Record<string, Buffer> = {
  'onnx/model.onnx': Buffer.alloc(6000, 1),
  'onnx/model_quantized.onnx': Buffer.alloc(2000, 2),
  'config.json': Buffer.from('{"id2label":{"0":"negative","1":"neutral","2":"positive"}}'),
  'tokenizer.json': Buffer.from('{"model":{"type":"BPE"}}'),
  'tokenizer_config.json': Buffer.from('{"model_max_length":512}'),
  'special_tokens_map.json': Buffer.from('{}'),
  'README.md': Buffer.from('# candidate\n'),
  'gate-report.json': Buffer.from('{"passed":true}'),
};
const FP32_PULLED = [
  'onnx/model.onnx',
  'config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
];
const sha256 = (content: Buffer) => createHash('sha256').update(content).digest('hex');

describe('pullModel from versions committed to the fake Hub', () => {
  let hub: FakeHub;
  let workDir: string;
  let output: CapturedOutput;

  beforeEach(async () => {
    hub = await FakeHub.start({ tokens: [TOKEN] });
    workDir = await mkdtemp(join(tmpdir(), 'model-pull-fake-hub-'));
    output = new CapturedOutput();
  });

  afterEach(async () => {
    await hub.close();
    await rm(workDir, { recursive: true, force: true });
  });

  async function writeModel(dir: string, files: Record<string, Buffer>): Promise<string> {
    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), content);
    }
    return dir;
  }

  const pull = (outDir: string, revision: string, variant: 'fp32' | 'int8' = 'fp32') =>
    pullModel({
      outDir,
      repo: REPO,
      revision,
      variant,
      endpoint: hub.endpoint,
      token: TOKEN,
      output,
      retryDelayMs: 5,
    });

  async function expectPulled(outDir: string, paths: string[], files: Record<string, Buffer> = MODEL_FILES) {
    for (const path of paths) expect(await readFile(join(outDir, path))).toEqual(files[path]);
  }

  it('pulls a branch written by uploadModelVersion, and the same commit pinned', async () => {
    const modelDir = await writeModel(join(workDir, 'export'), MODEL_FILES);
    const version = await uploadModelVersion({
      endpoint: hub.endpoint,
      token: TOKEN,
      repo: REPO,
      branch: 'candidate',
      dir: modelDir,
      message: 'Candidate 1',
    });

    const byBranch = join(workDir, 'by-branch');
    const pulled = await pull(byBranch, 'candidate');
    expect(pulled).toMatchObject({ repo: REPO, revision: version.commit, variant: 'fp32', skipped: false });
    await expectPulled(byBranch, FP32_PULLED);
    const manifest = JSON.parse(await readFile(join(byBranch, MANIFEST_FILE), 'utf8')) as PullManifest;
    expect(manifest.revision).toBe(version.commit);
    expect(manifest.files).toEqual(
      expect.arrayContaining([
        {
          path: 'onnx/model.onnx',
          size: 6000,
          algorithm: 'sha256',
          digest: sha256(MODEL_FILES['onnx/model.onnx']),
        },
        {
          path: 'config.json',
          size: MODEL_FILES['config.json'].length,
          algorithm: 'git-blob-sha1',
          digest: gitBlobOid(MODEL_FILES['config.json']),
        },
      ]),
    );
    // The graphs are LFS files: they came from the CDN the Hub redirected to.
    const cdn = hub.requests.filter((request) => request.server === 'cdn' && request.method === 'GET');
    expect(cdn.length).toBeGreaterThan(0);

    const byCommit = join(workDir, 'by-commit');
    const int8 = await pull(byCommit, version.commit, 'int8');
    expect(int8).toMatchObject({ revision: version.commit, variant: 'int8' });
    await expectPulled(byCommit, ['onnx/model_quantized.onnx', 'config.json', 'tokenizer.json']);
    expect(output.text).not.toContain(TOKEN);
  });

  it('pulls what uploadFiles committed to a branch, and an older commit after the branch moved on', async () => {
    hub.seed('model', REPO, {}, { private: true });
    const upload = async (files: Record<string, Buffer>, title: string) =>
      (
        await uploadFiles({
          repo: REPO,
          branch: 'main',
          files: Object.entries(files).map(([path, content]) => ({ path, content: new Blob([content]) })),
          commitTitle: title,
          hubUrl: hub.endpoint,
          accessToken: TOKEN,
        })
      )?.commit.oid as string;
    const first = await upload(MODEL_FILES, 'v1');
    const changed = {
      ...MODEL_FILES,
      'config.json': Buffer.from('{"id2label":{"0":"neg","1":"neu","2":"pos"}}'),
    };
    const second = await upload({ 'config.json': changed['config.json'] }, 'v2');

    const latest = join(workDir, 'latest');
    expect((await pull(latest, 'main')).revision).toBe(second);
    await expectPulled(latest, FP32_PULLED, changed);

    const pinned = join(workDir, 'pinned');
    expect((await pull(pinned, first)).revision).toBe(first);
    await expectPulled(pinned, FP32_PULLED);
    // Already there: a second pull of the pinned commit downloads nothing.
    expect((await pull(pinned, first)).skipped).toBe(true);
  });
});
