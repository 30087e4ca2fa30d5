import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PullCancelledError } from './errors';
import { DEFAULT_REPO, MANIFEST_FILE, pullModel, type PullModelOptions } from './pull';
import { corruptedCopy, FakeHub, gitBlobOid, type FakeHubOptions } from './test/fake-hub';
import { CapturedOutput } from './test/captured-output';
import { readTree, syntheticRepoFiles } from './test/synthetic-repo';

const COMMIT = '5f3b9c1e2d4a6b8c0e1f3a5b7c9d1e2f4a6b8c0d';
const TOKEN = 'hf_FakeTokenThatMustNeverBePrinted';
const PULLED_FILES = [
  'config.json',
  'merges.txt',
  'onnx/model.onnx',
  'special_tokens_map.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'vocab.json',
];

const sha256 = (content: Buffer) => createHash('sha256').update(content).digest('hex');
const sizeOf = (path: string) =>
  stat(path).then(
    (stats) => stats.size,
    () => undefined,
  );

describe('pullModel', () => {
  let workDir: string;
  let repoFiles: Map<string, Buffer>;
  let hub: FakeHub | undefined;
  let outDir: string;
  let output: CapturedOutput;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'model-pull-'));
    repoFiles = syntheticRepoFiles();
  });

  afterAll(async () => {
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    outDir = await mkdtemp(join(workDir, 'models-')).then((dir) => join(dir, 'roberta'));
    output = new CapturedOutput();
  });

  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  async function startHub(options: Partial<FakeHubOptions> = {}): Promise<FakeHub> {
    hub = await FakeHub.start({ repo: DEFAULT_REPO, commit: COMMIT, files: repoFiles, ...options });
    return hub;
  }

  function pull(fake: FakeHub, options: Partial<PullModelOptions> = {}) {
    return pullModel({
      outDir,
      endpoint: fake.endpoint,
      revision: COMMIT,
      output,
      retryDelayMs: 5,
      ...options,
    });
  }

  const stagingDir = () => join(outDir, '..', '.roberta.pulling');

  function repoFile(path: string): Buffer {
    const content = repoFiles.get(path);
    if (!content) throw new Error(`the fake repo has no ${path}`);
    return content;
  }

  async function pulledAsServed(path: string): Promise<boolean> {
    return (await readFile(join(outDir, path))).equals(repoFile(path));
  }

  it('downloads the fp32 graph, config and tokenizer files byte for byte, with progress', async () => {
    const fake = await startHub();

    const result = await pull(fake);

    expect(result).toMatchObject({ skipped: false, repo: DEFAULT_REPO, revision: COMMIT, variant: 'fp32' });
    const pulled = await readTree(outDir);
    expect([...pulled.keys()].sort()).toEqual([MANIFEST_FILE, ...PULLED_FILES].sort());
    for (const path of PULLED_FILES) expect(await pulledAsServed(path)).toBe(true);
    const manifest = JSON.parse((pulled.get(MANIFEST_FILE) as Buffer).toString());
    expect(manifest).toMatchObject({ repo: DEFAULT_REPO, revision: COMMIT, variant: 'fp32' });
    expect(manifest.files).toContainEqual({
      path: 'onnx/model.onnx',
      size: repoFile('onnx/model.onnx').length,
      algorithm: 'sha256',
      digest: sha256(repoFile('onnx/model.onnx')),
    });
    expect(existsSync(stagingDir())).toBe(false);
    // The graph came from the CDN the Hub redirected to; the listing took several pages.
    expect(fake.requests.filter(({ server }) => server === 'cdn')).toHaveLength(1);
    expect(fake.requests.filter(({ path }) => path.includes('/tree/')).length).toBeGreaterThan(1);
    expect(output.text).toMatch(
      /^onnx\/model\.onnx \[#{24}\] 100% {2}6\.3 MB \/ 6\.3 MB {2}[\d.]+ [kMG]?B\/s done$/m,
    );
    expect(output.text).toContain('Model ready in');
  });

  it('downloads onnx/model_quantized.onnx instead for the int8 variant', async () => {
    const fake = await startHub();

    await pull(fake, { variant: 'int8' });

    expect(await pulledAsServed('onnx/model_quantized.onnx')).toBe(true);
    expect(existsSync(join(outDir, 'onnx/model.onnx'))).toBe(false);
  });

  it('resumes a download cut mid-file on the next run with a Range request', async () => {
    const fake = await startHub();
    fake.cutNext.add('onnx/model.onnx');

    await expect(pull(fake, { maxAttempts: 1 })).rejects.toThrow(
      /^downloading onnx\/model\.onnx stopped at [\d.]+ MB of 6\.3 MB \(.+; 1 attempt\): run the same command again to resume from there$/,
    );
    expect(existsSync(outDir)).toBe(false);
    const partialBytes = (await stat(join(stagingDir(), 'onnx/model.onnx.part'))).size;
    expect(partialBytes).toBeGreaterThan(0);

    await pull(fake);

    const ranged = fake.requests.filter(({ range }) => range !== undefined);
    // The range goes to the Hub and along its redirect to the CDN.
    expect(ranged.map(({ server, range }) => [server, range])).toEqual([
      ['hub', `bytes=${partialBytes}-`],
      ['cdn', `bytes=${partialBytes}-`],
    ]);
    expect(await pulledAsServed('onnx/model.onnx')).toBe(true);
    expect(output.text).toContain('(resumed at');
  });

  it('is called off mid-file by its signal, without retrying, and the next pull resumes from there', async () => {
    const fake = await startHub();
    fake.stallNext.add('onnx/model.onnx');
    const controller = new AbortController();
    const partialPath = join(stagingDir(), 'onnx/model.onnx.part');

    const pulling = pull(fake, { signal: controller.signal });
    const failed = expect(pulling).rejects.toThrow(
      new PullCancelledError('the pull was called off: a newer assignment'),
    );
    // Half the graph has arrived and the transfer hangs, as a big download would still be going.
    const half = repoFile('onnx/model.onnx').length >> 1;
    for (let tries = 0; (await sizeOf(partialPath)) !== half; tries++) {
      if (tries > 500) throw new Error('the download never started');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const cancelledAt = performance.now();
    controller.abort(new Error('a newer assignment'));
    await failed;

    expect(performance.now() - cancelledAt).toBeLessThan(1_000); // not the 30 s stall timeout
    expect(fake.requests.filter(({ server }) => server === 'cdn')).toHaveLength(1); // no retry
    expect(existsSync(outDir)).toBe(false);
    const partialBytes = await sizeOf(partialPath);
    expect(partialBytes).toBe(half);

    await pull(fake);

    expect(fake.requests.filter(({ range }) => range !== undefined).map(({ range }) => range)).toEqual([
      `bytes=${partialBytes}-`,
      `bytes=${partialBytes}-`,
    ]);
    expect(await pulledAsServed('onnx/model.onnx')).toBe(true);
  });

  it('is called off while it waits to retry, without waiting out the backoff', async () => {
    const fake = await startHub();
    fake.unavailableCount = 1;
    const controller = new AbortController();

    const pulling = pull(fake, { signal: controller.signal, retryDelayMs: 60_000 });
    const failed = expect(pulling).rejects.toThrow(
      new PullCancelledError('the pull was called off: stopping'),
    );
    for (let tries = 0; !output.text.includes('retrying in 60 s'); tries++) {
      if (tries > 500) throw new Error('the pull never got to its retry');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const cancelledAt = performance.now();
    controller.abort(new Error('stopping'));
    await failed;

    expect(performance.now() - cancelledAt).toBeLessThan(1_000);
    expect(fake.requests).toHaveLength(1); // the 503, and no attempt after it
  });

  it('sends no request when its signal has already called it off', async () => {
    const fake = await startHub();

    await expect(pull(fake, { signal: AbortSignal.abort(new Error('stopping')) })).rejects.toThrow(
      new PullCancelledError('the pull was called off: stopping'),
    );
    expect(fake.requests).toEqual([]);
  });

  it('retries 503 answers and a cut connection within one run', async () => {
    const fake = await startHub();
    fake.unavailableCount = 2;
    fake.cutNext.add('onnx/model.onnx');

    await pull(fake);

    expect(output.text).toMatch(/503 on GET .*; retrying in 0\.005 s \(attempt 2 of 4\)/);
    expect(output.text).toMatch(/onnx\/model\.onnx stopped at .*; retrying in/);
    expect(fake.requests.some(({ server, range }) => server === 'cdn' && range !== undefined)).toBe(true);
    expect(await pulledAsServed('onnx/model.onnx')).toBe(true);
  });

  it.each([
    ['an LFS file against its sha256', 'onnx/model.onnx', 'sha256', sha256],
    ['another file against its git blob id', 'config.json', 'git-blob-sha1', gitBlobOid],
  ])('rejects %s, deleting it and leaving nothing at the output', async (_, path, algorithm, digest) => {
    const fake = await startHub();
    fake.corrupted.add(path);
    const original = repoFile(path);

    await expect(pull(fake)).rejects.toThrow(
      `checksum mismatch for ${path}: expected ${algorithm} ${digest(original)}, ` +
        `got ${digest(corruptedCopy(original))}; the download is deleted.`,
    );
    expect(existsSync(outDir)).toBe(false);
    expect(existsSync(join(stagingDir(), `${path}.part`))).toBe(false);
  });

  it('says a token is needed, or that the Hub refused it, without printing it', async () => {
    const fake = await startHub({ token: TOKEN });

    await expect(pull(fake)).rejects.toThrow(
      /^the Hub needs a token for Xenova\/twitter-roberta-base-sentiment-latest \(401 on GET .*\): .*set HF_TOKEN/,
    );
    const refused = pull(fake, { token: `${TOKEN}Wrong` });
    await expect(refused).rejects.toThrow(
      /^the Hub refused the token in HF_TOKEN \(401 on GET [^)]*Invalid credentials in Authorization header\): /,
    );
    await expect(refused).rejects.not.toThrow(TOKEN);
    expect(output.text).not.toContain(TOKEN);
  });

  it('sends the token to the Hub only, not to the CDN it redirects to, and never prints it', async () => {
    const fake = await startHub({ token: TOKEN });

    await pull(fake, { token: TOKEN });

    const hubRequests = fake.requests.filter(({ server }) => server === 'hub');
    const cdnRequests = fake.requests.filter(({ server }) => server === 'cdn');
    expect(hubRequests.length).toBeGreaterThan(0);
    expect(hubRequests.every(({ authorization }) => authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(cdnRequests).toHaveLength(1);
    expect(cdnRequests[0].authorization).toBeUndefined();
    expect(output.text).not.toContain(TOKEN);
  });

  it('names the missing repository, revision or file', async () => {
    const fake = await startHub({
      files: new Map([...repoFiles].filter(([path]) => !path.includes('quantized'))),
    });

    await expect(pull(fake, { repo: 'Xenova/no-such-model' })).rejects.toThrow(
      /^repository Xenova\/no-such-model not found at http:\/\/127\.0\.0\.1:\d+ \(404 on GET /,
    );
    const unknownCommit = 'f'.repeat(40);
    await expect(pull(fake, { revision: unknownCommit })).rejects.toThrow(
      `revision ${unknownCommit} not found in ${DEFAULT_REPO} (404 on GET`,
    );
    await expect(pull(fake, { variant: 'int8' })).rejects.toThrow(
      `${DEFAULT_REPO} at ${COMMIT} has no onnx/model_quantized.onnx (needed for the int8 variant); ` +
        'its ONNX files: onnx/model.onnx, onnx/model_fp16.onnx',
    );
    expect(existsSync(outDir)).toBe(false);
  });

  it('says the Hub is unreachable, with what to do, when nothing listens at the endpoint', async () => {
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const endpoint = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((done) => closed.close(done));

    const failure = pullModel({ outDir, endpoint, output });

    await expect(failure).rejects.toThrow(
      new RegExp(
        `^could not reach ${endpoint} \\(GET /api/models/${DEFAULT_REPO}/revision/\\w+: .*ECONNREFUSED.*\\): ` +
          'offline\\? set HF_ENDPOINT to a mirror, or try the system with a synthetic model: npm run start:demo$',
      ),
    );
    expect(existsSync(outDir)).toBe(false);
  });

  it('skips a folder that already holds the revision, asking the Hub only to resolve a branch', async () => {
    const fake = await startHub();
    await pull(fake);
    fake.requests.length = 0;

    expect(await pull(fake)).toMatchObject({ skipped: true, revision: COMMIT });
    expect(fake.requests).toEqual([]);
    expect(await pull(fake, { revision: 'main' })).toMatchObject({ skipped: true, revision: COMMIT });
    expect(fake.requests.map(({ path }) => path)).toEqual([`/api/models/${DEFAULT_REPO}/revision/main`]);
    expect(output.text).toContain('already holds');
  });

  it('replaces its own earlier pull, but never a folder it did not write', async () => {
    const fake = await startHub();
    await pull(fake);

    await pull(fake, { variant: 'int8' });

    const pulled = await readTree(outDir);
    expect(pulled.has('onnx/model_quantized.onnx')).toBe(true);
    expect(pulled.has('onnx/model.onnx')).toBe(false);

    const foreignDir = join(workDir, 'exported-by-hand');
    await mkdir(foreignDir, { recursive: true });
    await writeFile(join(foreignDir, 'config.json'), '{}');
    await expect(pull(fake, { outDir: foreignDir })).rejects.toThrow(
      `${foreignDir} exists and was not written by model:pull (no ${MANIFEST_FILE})`,
    );
    expect(await readFile(join(foreignDir, 'config.json'), 'utf8')).toBe('{}');
  });
});
