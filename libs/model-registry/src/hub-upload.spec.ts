import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { FakeHub } from '@reputation-monitor/fake-hub';
import { ModelRegistryError, uploadModelVersion, type UploadModelVersionOptions } from './index';

const TOKEN = 'hf_RegistryWriterTokenNeverPrinted';
const READ_ONLY = 'hf_RegistryReaderTokenNeverPrinted';
const REPO = 'acme/sentiment-candidates';

const MODEL_FILES: Record<string, Buffer> = {
  'onnx/model.onnx': Buffer.alloc(4096, 1),
  'onnx/model_quantized.onnx': Buffer.alloc(1024, 2),
  'config.json': Buffer.from('{"id2label":{"0":"negative","1":"neutral","2":"positive"}}'),
  'tokenizer.json': Buffer.from('{"model":{}}'),
  'tokenizer_config.json': Buffer.from('{}'),
  'README.md': Buffer.from('# candidate\n'),
  'gate-report.json': Buffer.from('{"passed":true}'),
};
const sha256 = (content: Buffer) => createHash('sha256').update(content).digest('hex');

async function writeModel(dir: string, files: Record<string, Buffer>): Promise<string> {
  await rm(dir, { recursive: true, force: true });
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return dir;
}

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof Error)) throw new Error('expected a rejection');
  return error;
}

describe('uploadModelVersion against the fake Hub', () => {
  let hub: FakeHub;
  let workDir: string;
  let modelDir: string;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'model-registry-'));
  });

  afterAll(async () => {
    await rm(workDir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    hub = await FakeHub.start({ tokens: [TOKEN], readOnlyTokens: [READ_ONLY] });
    // model-pull's manifest sits in pulled directories; it is not part of the model.
    modelDir = await writeModel(join(workDir, 'model'), {
      ...MODEL_FILES,
      '.model-pull.json': Buffer.from('{}'),
    });
  });

  afterEach(async () => {
    await hub.close();
  });

  const upload = (options: Partial<UploadModelVersionOptions> = {}) =>
    uploadModelVersion({
      endpoint: hub.endpoint,
      token: TOKEN,
      repo: REPO,
      branch: 'candidate',
      dir: modelDir,
      message: 'Candidate 1',
      ...options,
    });

  it('creates the private repo and the branch, and lands every file there in one commit', async () => {
    const result = await upload();

    expect(result).toEqual({
      commit: hub.head('model', REPO, 'candidate'),
      branch: 'candidate',
      files: Object.keys(MODEL_FILES).sort(),
    });
    expect(hub.repo('model', REPO)).toEqual({ private: true });
    const files = hub.files('model', REPO, 'candidate');
    for (const [path, content] of Object.entries(MODEL_FILES)) expect(files.get(path)).toEqual(content);
    expect(files.has('.model-pull.json')).toBe(false);
    // main keeps only the Hub's initial commit.
    expect([...hub.files('model', REPO, 'main').keys()]).toEqual(['.gitattributes']);
    const [version, initial] = hub.commits('model', REPO, 'candidate');
    expect(version).toMatchObject({ title: 'Candidate 1', parent: initial.id });
    expect(initial.id).toBe(hub.head('model', REPO, 'main'));

    // The graphs went through LFS: listed with their sha256, uploaded to the CDN.
    for (const path of ['onnx/model.onnx', 'onnx/model_quantized.onnx']) {
      expect(hub.fileInfo('model', REPO, 'candidate', path)).toMatchObject({
        lfs: true,
        sha256: sha256(MODEL_FILES[path]),
      });
    }
    expect(hub.fileInfo('model', REPO, 'candidate', 'config.json')?.lfs).toBe(false);
    const uploads = hub.requests.filter((request) => request.server === 'cdn' && request.method === 'PUT');
    expect(uploads).toHaveLength(2);
  });

  it('makes a later version on the same branch hold exactly its own files', async () => {
    const first = await upload();
    const smaller: Record<string, Buffer> = { ...MODEL_FILES, 'config.json': Buffer.from('{"v":2}') };
    delete smaller['onnx/model_quantized.onnx'];
    await writeModel(modelDir, smaller);
    hub.clearRequests();

    const second = await upload({ message: 'Candidate 2' });
    expect(hub.commits('model', REPO, 'candidate')[0]).toMatchObject({
      id: second.commit,
      parent: first.commit,
    });
    const files = hub.files('model', REPO, 'candidate');
    expect(files.has('onnx/model_quantized.onnx')).toBe(false);
    expect(files.get('config.json')).toEqual(Buffer.from('{"v":2}'));
    // The unchanged graph was already in LFS storage: nothing to upload again.
    expect(hub.requests.filter((request) => request.server === 'cdn' && request.method === 'PUT')).toEqual(
      [],
    );
  });

  it("branches a new version from main's head and leaves main unchanged", async () => {
    const main = hub.seed('model', REPO, { 'onnx/model.onnx': Buffer.alloc(10, 9), 'config.json': '{}' });
    const result = await upload();
    expect(hub.head('model', REPO, 'main')).toBe(main);
    expect(hub.commits('model', REPO, 'candidate')[0]).toMatchObject({ id: result.commit, parent: main });
    expect(hub.files('model', REPO, 'main').get('onnx/model.onnx')).toEqual(Buffer.alloc(10, 9));
    expect(hub.files('model', REPO, 'candidate').get('onnx/model.onnx')).toEqual(
      MODEL_FILES['onnx/model.onnx'],
    );
  });

  it('says what to fix, in one line and without the token', async () => {
    const noToken = await failureOf(upload({ token: undefined }));
    expect(noToken).toBeInstanceOf(ModelRegistryError);
    expect(noToken.message).toBe(
      `uploading to ${REPO} needs a Hugging Face token with write access: set HF_TOKEN`,
    );

    hub.seed('model', REPO, { 'config.json': '{}' });
    const readOnly = await failureOf(upload({ token: READ_ONLY }));
    expect(readOnly.message).toMatch(
      new RegExp(`${REPO} failed: not allowed \\(403: .*\\); check that HF_TOKEN has write access`),
    );
    expect(readOnly.message).not.toContain(READ_ONLY);

    hub.failNext(1);
    const unavailable = await failureOf(upload());
    expect(unavailable.message).toMatch(
      /answered 503: Service Unavailable; try again later, or check HF_ENDPOINT/,
    );
    expect(unavailable.message).not.toContain(TOKEN);

    const notAModel = await writeModel(join(workDir, 'not-a-model'), { 'config.json': Buffer.from('{}') });
    await expect(upload({ dir: notAModel })).rejects.toThrow(
      `${notAModel} is not a model directory: it has no onnx/model.onnx or model.onnx`,
    );
    await expect(upload({ repo: 'no-owner' })).rejects.toThrow('must be <owner>/<name>');
  });

  it('commits nothing when someone else commits to the branch meanwhile', async () => {
    await upload();
    let raced = false;
    const racingFetch: typeof fetch = async (input, init) => {
      if (!raced && init?.method === 'POST' && String(input).includes('/commit/candidate')) {
        raced = true;
        hub.seed('model', REPO, { 'notes.md': 'someone else' }, { branch: 'candidate' });
      }
      return fetch(input, init);
    };
    const before = hub.head('model', REPO, 'candidate');
    const error = await failureOf(upload({ message: 'Candidate 2', fetch: racingFetch }));
    expect(error.message).toMatch(
      /^branch candidate of .* moved while the version was uploaded \(the Hub answered 412: A commit has happened since/,
    );
    const [theirs] = hub.commits('model', REPO, 'candidate');
    expect(theirs.parent).toBe(before);
    expect(theirs.title).not.toBe('Candidate 2');
  });
});
