import {
  commit,
  createBranch,
  createRepo,
  deleteBranch,
  deleteFile,
  downloadFile,
  fileDownloadInfo,
  HubApiError,
  listCommits,
  listFiles,
  modelInfo,
  datasetInfo,
  repoExists,
  uploadFiles,
} from '@huggingface/hub';
import { COMMIT_CONFLICT_MESSAGE, FakeHub, gitBlobOid, sha256Hex } from './index';

const WRITER = 'hf_FakeWriterTokenNeverEchoed';
const READER = 'hf_FakeReaderTokenNeverEchoed';
const MODEL = 'acme/sentiment';
const DATASET = 'acme/labelled';

const blob = (text: string | Buffer) => new Blob([text]);

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

async function rejection(promise: Promise<unknown>): Promise<HubApiError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof HubApiError)) throw new Error(`expected a HubApiError, got ${String(error)}`);
  return error;
}

describe('FakeHub driven by @huggingface/hub', () => {
  let hub: FakeHub;
  const auth = () => ({ hubUrl: hub.endpoint, accessToken: WRITER });

  beforeEach(async () => {
    hub = await FakeHub.start({ tokens: [WRITER], readOnlyTokens: [READER], lfsThresholdBytes: 1024 });
  });

  afterEach(async () => {
    await hub.close();
  });

  it('creates repos, refuses a second creation with 409 and answers repoExists', async () => {
    await createRepo({ repo: { type: 'dataset', name: DATASET }, visibility: 'private', ...auth() });
    expect(hub.repo('dataset', DATASET)).toEqual({ private: true });
    expect(hub.commits('dataset', DATASET).map((entry) => entry.title)).toEqual(['initial commit']);

    const again = await rejection(createRepo({ repo: { type: 'dataset', name: DATASET }, ...auth() }));
    expect(again.statusCode).toBe(409);

    const dataset = { type: 'dataset', name: DATASET } as const;
    expect(await repoExists({ repo: dataset, ...auth() })).toBe(true);
    // Private: anonymous callers cannot tell it from a missing repo.
    expect(await repoExists({ repo: dataset, hubUrl: hub.endpoint })).toBe(false);
    expect(await repoExists({ repo: { type: 'dataset', name: 'acme/missing' }, ...auth() })).toBe(false);
    expect(await repoExists({ repo: DATASET, ...auth() })).toBe(false); // a model of that name does not exist
  });

  it('commits regular files inline and .onnx and large files through the basic LFS transfer', async () => {
    await createRepo({ repo: MODEL, ...auth() });
    const graph = Buffer.alloc(3000, 7);
    const large = Buffer.alloc(2048, 1);
    const output = await uploadFiles({
      repo: MODEL,
      files: [
        { path: 'config.json', content: blob('{"id2label":{}}') },
        { path: 'onnx/model.onnx', content: blob(graph) },
        { path: 'data/large.bin', content: blob(large) },
      ],
      commitTitle: 'Add the model',
      ...auth(),
    });

    const head = hub.head('model', MODEL);
    expect(output?.commit.oid).toBe(head);
    expect(output?.commit.oid).toMatch(/^[0-9a-f]{40}$/);
    expect(hub.files('model', MODEL).get('onnx/model.onnx')).toEqual(graph);
    expect(hub.fileInfo('model', MODEL, 'main', 'onnx/model.onnx')).toMatchObject({
      lfs: true,
      sha256: sha256Hex(graph),
    });
    expect(hub.fileInfo('model', MODEL, 'main', 'data/large.bin')?.lfs).toBe(true);
    expect(hub.fileInfo('model', MODEL, 'main', 'config.json')?.lfs).toBe(false);
    const uploads = hub.requests.filter((request) => request.server === 'cdn' && request.method === 'PUT');
    expect(uploads).toHaveLength(2);
    expect(uploads.every((request) => request.authorized && request.status === 200)).toBe(true);
    expect(hub.requests.map((request) => `${request.method} ${request.path}`)).toEqual(
      expect.arrayContaining([
        `POST /api/models/${MODEL}/preupload/main`,
        `POST /${MODEL}.git/info/lfs/objects/batch`,
        `POST /api/models/${MODEL}/commit/main`,
      ]),
    );
  });

  it('lists a tree across pages with git and LFS ids', async () => {
    const graph = Buffer.alloc(2000, 3);
    hub.seed('model', MODEL, {
      'README.md': '# model',
      'config.json': '{}',
      'onnx/model.onnx': graph,
      'onnx/model_quantized.onnx': Buffer.alloc(10, 2),
      'tokenizer.json': '{}',
    });
    const entries = await collect(listFiles({ repo: MODEL, recursive: true, ...auth() }));
    // Small pages: five files, one folder and .gitattributes take three pages.
    expect(hub.requests.filter((request) => request.path === `/api/models/${MODEL}/tree/main`)).toHaveLength(
      3,
    );
    expect(entries.map((entry) => entry.path)).toEqual([
      '.gitattributes',
      'README.md',
      'config.json',
      'onnx',
      'onnx/model.onnx',
      'onnx/model_quantized.onnx',
      'tokenizer.json',
    ]);
    const readme = entries.find((entry) => entry.path === 'README.md');
    expect(readme).toMatchObject({ type: 'file', size: 7, oid: gitBlobOid(Buffer.from('# model')) });
    const model = entries.find((entry) => entry.path === 'onnx/model.onnx');
    expect(model?.lfs).toMatchObject({ oid: sha256Hex(graph), size: 2000 });
    expect(model?.oid).not.toBe(gitBlobOid(graph)); // the pointer's id

    const top = await collect(listFiles({ repo: MODEL, ...auth() }));
    expect(top.map((entry) => entry.path)).toEqual([
      '.gitattributes',
      'README.md',
      'config.json',
      'onnx',
      'tokenizer.json',
    ]);
    const folder = await collect(listFiles({ repo: MODEL, path: 'onnx', ...auth() }));
    expect(folder.map((entry) => entry.path)).toEqual(['onnx/model.onnx', 'onnx/model_quantized.onnx']);
  });

  it('downloads files at a commit and at a branch, regular and LFS, honouring Range', async () => {
    const graph = Buffer.alloc(5000, 9);
    const first = hub.seed('model', MODEL, { 'config.json': '{"v":1}', 'onnx/model.onnx': graph });
    hub.seed('model', MODEL, { 'config.json': '{"v":2}' });

    const atCommit = await downloadFile({ repo: MODEL, path: 'config.json', revision: first, ...auth() });
    expect(await atCommit?.text()).toBe('{"v":1}');
    const atBranch = await downloadFile({ repo: MODEL, path: 'config.json', revision: 'main', ...auth() });
    expect(await atBranch?.text()).toBe('{"v":2}');
    const lfs = await downloadFile({ repo: MODEL, path: 'onnx/model.onnx', revision: first, ...auth() });
    expect(Buffer.from(await (lfs as Blob).arrayBuffer())).toEqual(graph);
    expect(await downloadFile({ repo: MODEL, path: 'nothing.txt', ...auth() })).toBeNull();

    const info = await fileDownloadInfo({ repo: MODEL, path: 'onnx/model.onnx', ...auth() });
    expect(info).toMatchObject({ size: 5000, etag: `"${sha256Hex(graph)}"` });
    expect(hub.requests.some((request) => request.server === 'cdn' && request.method === 'GET')).toBe(true);

    const url = `${hub.endpoint}/${MODEL}/resolve/main/config.json`;
    const partial = await fetch(url, { headers: { range: 'bytes=2-4' } });
    expect(partial.status).toBe(206);
    expect(partial.headers.get('content-range')).toBe('bytes 2-4/7');
    expect(partial.headers.get('x-repo-commit')).toBe(hub.head('model', MODEL));
    expect(await partial.text()).toBe('v":');
    expect(await (await fetch(url, { headers: { range: 'bytes=-2' } })).text()).toBe('2}');
    expect((await fetch(url, { headers: { range: 'bytes=7-' } })).status).toBe(416);
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.headers.get('etag')).toBe(`"${gitBlobOid(Buffer.from('{"v":2}'))}"`);

    const redirect = await fetch(`${hub.endpoint}/${MODEL}/resolve/${first}/onnx/model.onnx`, {
      redirect: 'manual',
    });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toMatch(new RegExp(`^${hub.cdnEndpoint}/`));
    expect(redirect.headers.get('x-linked-size')).toBe('5000');
    expect(redirect.headers.get('x-linked-etag')).toBe(`"${sha256Hex(graph)}"`);
    const unsigned = new URL(redirect.headers.get('location') as string);
    unsigned.search = '';
    expect((await fetch(unsigned)).status).toBe(403);
  });

  it('answers the Hub error codes for a missing repo, revision or file', async () => {
    hub.seed('model', MODEL, { 'config.json': '{}' });
    const codeOf = async (path: string) => {
      const response = await fetch(`${hub.endpoint}${path}`, {
        headers: { authorization: `Bearer ${WRITER}` },
      });
      return `${response.status} ${response.headers.get('x-error-code')}`;
    };
    expect(await codeOf(`/${MODEL}/resolve/main/missing.json`)).toBe('404 EntryNotFound');
    expect(await codeOf(`/${MODEL}/resolve/nobranch/config.json`)).toBe('404 RevisionNotFound');
    expect(await codeOf('/acme/nothing/resolve/main/config.json')).toBe('404 RepoNotFound');
    expect(await codeOf(`/api/models/${MODEL}/revision/nobranch`)).toBe('404 RevisionNotFound');
  });

  it('refuses a commit whose parentCommit is no longer the head, as the Hub does (412), and applies nothing', async () => {
    await createRepo({ repo: { type: 'dataset', name: DATASET }, ...auth() });
    const base = hub.head('dataset', DATASET) as string;
    const repo = { type: 'dataset', name: DATASET } as const;
    const first = await commit({
      repo,
      title: 'first',
      parentCommit: base,
      operations: [{ operation: 'addOrUpdate', path: 'a.txt', content: blob('a') }],
      ...auth(),
    });
    const conflict = await rejection(
      commit({
        repo,
        title: 'stale',
        parentCommit: base,
        operations: [{ operation: 'addOrUpdate', path: 'b.txt', content: blob('b') }],
        ...auth(),
      }),
    );
    expect(conflict.statusCode).toBe(412);
    expect(conflict.message).toContain(COMMIT_CONFLICT_MESSAGE);
    expect(hub.head('dataset', DATASET)).toBe(first?.commit.oid);
    expect([...hub.files('dataset', DATASET).keys()]).toEqual(['.gitattributes', 'a.txt']);
  });

  it('creates a branch from a revision, refuses an existing one and deletes it', async () => {
    const first = hub.seed('model', MODEL, { 'config.json': '{"v":1}' });
    hub.seed('model', MODEL, { 'config.json': '{"v":2}' });
    await createBranch({ repo: MODEL, branch: 'candidate', revision: first, ...auth() });
    expect(hub.head('model', MODEL, 'candidate')).toBe(first);
    const info = await modelInfo({
      name: MODEL,
      revision: 'candidate',
      additionalFields: ['sha'],
      ...auth(),
    });
    expect(info.sha).toBe(first);

    const again = await rejection(createBranch({ repo: MODEL, branch: 'candidate', ...auth() }));
    expect(again.statusCode).toBe(409);
    const missingStart = await rejection(
      createBranch({ repo: MODEL, branch: 'other', revision: 'nope', ...auth() }),
    );
    expect(missingStart.statusCode).toBe(404);

    await uploadFiles({
      repo: MODEL,
      branch: 'candidate',
      files: [{ path: 'new.txt', content: blob('x') }],
      ...auth(),
    });
    expect([...hub.files('model', MODEL, 'candidate').keys()]).toContain('new.txt');
    expect([...hub.files('model', MODEL, 'main').keys()]).not.toContain('new.txt');

    await deleteBranch({ repo: MODEL, branch: 'candidate', ...auth() });
    expect(hub.head('model', MODEL, 'candidate')).toBeUndefined();
  });

  it('lists commits newest first across pages', async () => {
    for (const version of [1, 2, 3, 4])
      hub.seed('dataset', DATASET, { 'v.txt': String(version) }, { message: `v${version}` });
    const commits = await collect(listCommits({ repo: { type: 'dataset', name: DATASET }, ...auth() }));
    expect(commits.map((entry) => entry.title)).toEqual(['v4', 'v3', 'v2', 'v1', 'initial commit']);
    expect(commits.map((entry) => entry.oid)).toEqual(
      hub.commits('dataset', DATASET).map((entry) => entry.id),
    );
    expect(hub.requests.filter((request) => request.path.includes('/commits/'))).toHaveLength(2);
    const info = await datasetInfo({ name: DATASET, additionalFields: ['sha'], ...auth() });
    expect(info.sha).toBe(commits[0].oid);
  });

  it('deletes a file in a new commit and keeps it in the older ones', async () => {
    const before = hub.seed('model', MODEL, { 'keep.txt': 'k', 'drop.txt': 'd' });
    await deleteFile({ repo: MODEL, path: 'drop.txt', ...auth() });
    expect([...hub.files('model', MODEL).keys()]).toEqual(['.gitattributes', 'keep.txt']);
    expect(hub.files('model', MODEL, before).get('drop.txt')).toEqual(Buffer.from('d'));
    const missing = await rejection(deleteFile({ repo: MODEL, path: 'drop.txt', ...auth() }));
    expect(missing.statusCode).toBe(404);
  });

  it('needs a valid write token for writes and a valid token for private reads, and never keeps tokens', async () => {
    hub.seed('dataset', DATASET, { 'a.txt': 'a' }, { private: true });
    const repo = { type: 'dataset', name: DATASET } as const;
    const upload = (accessToken?: string) =>
      uploadFiles({
        repo,
        files: [{ path: 'b.txt', content: blob('b') }],
        hubUrl: hub.endpoint,
        accessToken,
      });

    expect((await rejection(upload())).statusCode).toBe(401);
    expect((await rejection(upload('hf_NotAKnownToken'))).statusCode).toBe(401);
    expect((await rejection(upload(READER))).statusCode).toBe(403);
    expect([...hub.files('dataset', DATASET).keys()]).not.toContain('b.txt');

    const anonymous = await rejection(datasetInfo({ name: DATASET, hubUrl: hub.endpoint }));
    expect(anonymous.statusCode).toBe(401);
    const read = await downloadFile({ repo, path: 'a.txt', hubUrl: hub.endpoint, accessToken: READER });
    expect(await read?.text()).toBe('a');

    expect(hub.requests.some((request) => request.authorized)).toBe(true);
    expect(hub.requests.some((request) => !request.authorized)).toBe(true);
    const recorded = JSON.stringify(hub.requests);
    expect(recorded).not.toContain(WRITER);
    expect(recorded).not.toContain(READER);
  });

  it('checks LFS uploads: the blob must match its sha256 and a commit may only reference uploaded blobs', async () => {
    await createRepo({ repo: MODEL, ...auth() });
    const content = Buffer.alloc(4000, 5);
    const oid = sha256Hex(content);
    const headers = { authorization: `Bearer ${WRITER}`, 'content-type': 'application/json' };
    const batch = await fetch(`${hub.endpoint}/${MODEL}.git/info/lfs/objects/batch`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        operation: 'upload',
        transfers: ['basic'],
        objects: [{ oid, size: content.length }],
      }),
    });
    const answer = (await batch.json()) as {
      transfer: string;
      objects: Array<{ actions: { upload: { href: string } } }>;
    };
    expect(answer.transfer).toBe('basic');
    const href = answer.objects[0].actions.upload.href;
    expect((await fetch(href, { method: 'PUT', body: Buffer.alloc(4000, 6) })).status).toBe(400);

    const commitLine = (key: string, value: object) => JSON.stringify({ key, value });
    const body = [
      commitLine('header', { summary: 'reference a missing blob' }),
      commitLine('lfsFile', { path: 'onnx/model.onnx', algo: 'sha256', oid, size: content.length }),
    ].join('\n');
    const refused = await fetch(`${hub.endpoint}/api/models/${MODEL}/commit/main`, {
      method: 'POST',
      headers,
      body,
    });
    expect(refused.status).toBe(422);

    expect((await fetch(href, { method: 'PUT', body: content })).status).toBe(200);
    const accepted = await fetch(`${hub.endpoint}/api/models/${MODEL}/commit/main`, {
      method: 'POST',
      headers,
      body,
    });
    expect(accepted.status).toBe(200);
    expect(hub.files('model', MODEL).get('onnx/model.onnx')).toEqual(content);
  });

  it('injects 503s and dropped connections for the next requests only', async () => {
    hub.seed('model', MODEL, { 'config.json': '{}' });
    hub.failNext(2);
    const first = await rejection(modelInfo({ name: MODEL, ...auth() }));
    expect(first.statusCode).toBe(503);
    expect((await rejection(modelInfo({ name: MODEL, ...auth() }))).statusCode).toBe(503);
    await expect(modelInfo({ name: MODEL, ...auth() })).resolves.toMatchObject({ name: MODEL });

    hub.dropNext(1, { match: (request) => request.path.endsWith('/commit/main') });
    await expect(
      uploadFiles({ repo: MODEL, files: [{ path: 'x.txt', content: blob('x') }], ...auth() }),
    ).rejects.toThrow();
    expect([...hub.files('model', MODEL).keys()]).not.toContain('x.txt');
    const dropped = hub.requests.at(-1);
    expect(dropped?.path).toBe(`/api/models/${MODEL}/commit/main`);
    expect(dropped?.status).toBeUndefined();
    await uploadFiles({ repo: MODEL, files: [{ path: 'x.txt', content: blob('x') }], ...auth() });
    expect([...hub.files('model', MODEL).keys()]).toContain('x.txt');
  });

  it('can carry out a commit and lose its answer, or hold a request back', async () => {
    hub.seed('model', MODEL, { 'config.json': '{}' });
    hub.loseAnswerOfNext(1, { match: (request) => request.path.endsWith('/commit/main') });
    await expect(
      uploadFiles({ repo: MODEL, files: [{ path: 'landed.txt', content: blob('y') }], ...auth() }),
    ).rejects.toThrow();
    // The caller saw a failure, yet the commit is in.
    expect([...hub.files('model', MODEL).keys()]).toContain('landed.txt');

    hub.delayNext(1, 200, { match: (request) => request.path.includes('/revision/') });
    const order: string[] = [];
    await Promise.all([
      modelInfo({ name: MODEL, ...auth() }).then(() => order.push('delayed')),
      new Promise((done) => setTimeout(done, 50)).then(() =>
        repoExists({ repo: MODEL, ...auth() }).then(() => order.push('prompt')),
      ),
    ]);
    expect(order).toEqual(['prompt', 'delayed']);
  });
});
