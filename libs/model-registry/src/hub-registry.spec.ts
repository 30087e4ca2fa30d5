import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeHub } from '@reputation-monitor/fake-hub';
import {
  gateVerdict,
  MANIFEST_FILE,
  ModelRegistryError,
  openModelRegistry,
  type ModelRegistry,
  type ModelVersionInfo,
} from './index';
import { gateReport, graphBytes, modelFiles, versionOf } from './test/model-files';

const TOKEN = 'hf_RegistryReaderTokenNeverPrinted';
const REPO = 'acme/sentiment';
const LOCATION = `hf://models/${REPO}`;

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof Error)) throw new Error('expected a rejection');
  return error;
}

describe('a Hub model registry against the fake Hub', () => {
  let hub: FakeHub;
  let workDir: string;
  let registry: ModelRegistry;
  const graphs = {
    v1: graphBytes(11),
    v2: graphBytes(12),
    candidate: graphBytes(13),
    copied: graphBytes(14),
  };
  const commits = { v1: '', v2: '', candidate: '', copied: '', readme: '' };

  beforeEach(async () => {
    hub = await FakeHub.start({ tokens: [TOKEN] });
    workDir = await mkdtemp(join(tmpdir(), 'model-registry-hub-'));
    // main: v1, then v2 (v1 stays reachable by commit id only).
    commits.v1 = hub.seed('model', REPO, modelFiles({ graph: graphs.v1, int8: true }), {
      private: true,
      message: 'v1',
    });
    commits.v2 = hub.seed('model', REPO, modelFiles({ graph: graphs.v2, int8: true }), { message: 'v2' });
    commits.candidate = hub.seed(
      'model',
      REPO,
      modelFiles({
        graph: graphs.candidate,
        int8: true,
        retrain: { createdAt: '2030-01-02T03:04:05.000Z', seed: 3 },
        gate: gateReport(versionOf(graphs.candidate)),
      }),
      { branch: `candidate-${versionOf(graphs.candidate)}`, message: 'Candidate: gate passed' },
    );
    // The candidate's report copied beside another graph.
    commits.copied = hub.seed(
      'model',
      REPO,
      modelFiles({
        graph: graphs.copied,
        retrain: { createdAt: '2030-01-01T00:00:00.000Z' },
        gate: gateReport(versionOf(graphs.candidate)),
      }),
      // The branch starts from main: its int8 graph goes, so this version has none.
      { branch: 'copied-report', message: 'copied', deleted: ['onnx/model_quantized.onnx'] },
    );
    // A branch without a model is no version.
    commits.readme = hub.seed(
      'model',
      REPO,
      { 'README.md': '# notes\n' },
      { branch: 'docs', deleted: Object.keys(modelFiles({ graph: graphs.v2, int8: true })) },
    );
    registry = openModelRegistry(LOCATION, { endpoint: hub.endpoint, token: TOKEN });
  });

  afterEach(async () => {
    await hub.close();
    await rm(workDir, { recursive: true, force: true });
  });

  it('lists the branch heads holding a model, newest first, without downloading a graph', async () => {
    hub.clearRequests();

    const versions = await registry.list();

    expect(registry.location).toBe(LOCATION);
    expect(versions.map((info) => [info.branch, info.id])).toEqual([
      [`candidate-${versionOf(graphs.candidate)}`, commits.candidate],
      ['copied-report', commits.copied],
      ['main', commits.v2],
    ]);
    const [candidate, , main] = versions;
    expect(candidate).toEqual({
      id: commits.candidate,
      location: `${LOCATION}@${commits.candidate}`,
      source: 'hub',
      branch: `candidate-${versionOf(graphs.candidate)}`,
      createdAt: '2030-01-02T03:04:05.000Z',
      modelVersion: versionOf(graphs.candidate),
      provenance: { createdAt: '2030-01-02T03:04:05.000Z', seed: 3 },
      gate: {
        verdict: 'pass',
        reasons: expect.any(Array),
        candidateVersion: versionOf(graphs.candidate),
        createdAt: '2026-03-01T10:00:00.000Z',
        thresholds: { minGain: 0.01, maxP: 0.01, maxRegression: 0.01 },
      },
    });
    // Without provenance, the commit's date.
    const mainCommit = hub.commits('model', REPO, 'main')[0];
    expect(main).toMatchObject({
      modelVersion: versionOf(graphs.v2),
      provenance: null,
      gate: null,
      createdAt: mainCommit.date.toISOString(),
    });
    // Graphs are LFS files behind the CDN: none was fetched.
    expect(hub.requests.filter((request) => request.server === 'cdn')).toEqual([]);
    expect(hub.requests.every((request) => request.authorized)).toBe(true);
  });

  it('gets a version by branch, full commit id, unique prefix, and an older commit by id', async () => {
    const byBranch = await registry.get('main');
    const byCommit = await registry.get(commits.v2);
    const byPrefix = await registry.get(commits.candidate.slice(0, 8));
    const older = await registry.get(commits.v1.slice(0, 10));
    const olderFull = await registry.get(commits.v1);

    expect(byBranch).toMatchObject({ id: commits.v2, branch: 'main' });
    expect(byCommit).toEqual(byBranch);
    expect(byPrefix).toMatchObject({
      id: commits.candidate,
      branch: `candidate-${versionOf(graphs.candidate)}`,
    });
    expect(older).toMatchObject({ id: commits.v1, modelVersion: versionOf(graphs.v1) });
    expect(older?.branch).toBeUndefined();
    expect(olderFull).toEqual(older);
  });

  it('gets nothing for an unknown branch or commit, or a commit without a model', async () => {
    for (const missing of ['no-such-branch', 'f'.repeat(40), 'ffff', 'docs', commits.readme, '']) {
      expect(await registry.get(missing)).toBeUndefined();
    }
  });

  it('passes the gate only where the report was written for the graph beside it', async () => {
    const versions = new Map((await registry.list()).map((info) => [info.branch, info] as const));
    const verdict = (branch: string) => gateVerdict(versions.get(branch) as ModelVersionInfo);

    expect(verdict(`candidate-${versionOf(graphs.candidate)}`).passed).toBe(true);
    expect(verdict('copied-report')).toEqual({
      passed: false,
      why: expect.stringContaining('a report copied from another model does not count'),
    });
    expect(verdict('main')).toEqual({
      passed: false,
      why: expect.stringContaining('no readable gate report'),
    });
  });

  it('materializes a version once into the cache, reuses it after, and pulls again a damaged copy', async () => {
    const info = (await registry.get('main')) as ModelVersionInfo;
    const cacheDir = join(workDir, 'cache');
    const lines: string[] = [];
    const options = { cacheDir, variant: 'fp32' as const, log: (line: string) => lines.push(line) };

    const dir = await registry.materialize(info, options);

    expect(dir).toBe(join(cacheDir, 'acme', 'sentiment', commits.v2));
    expect(await readFile(join(dir, 'onnx/model.onnx'))).toEqual(graphs.v2);
    expect(JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8'))).toMatchObject({
      repo: REPO,
      revision: commits.v2,
      variant: 'fp32',
    });
    expect(lines.some((line) => line.startsWith('Model ready in'))).toBe(true);
    expect(lines.join('\n')).not.toContain(TOKEN);

    hub.clearRequests();
    expect(await registry.materialize(info, options)).toBe(dir);
    expect(hub.requests).toEqual([]);

    // Same size, other bytes: found by its sha256 and pulled again.
    const damaged = Buffer.from(graphs.v2);
    damaged[100] ^= 0xff;
    await writeFile(join(dir, 'onnx/model.onnx'), damaged);
    expect(await registry.materialize(info, options)).toBe(dir);
    expect(await readFile(join(dir, 'onnx/model.onnx'))).toEqual(graphs.v2);
    expect(hub.requests.some((request) => request.server === 'cdn')).toBe(true);
    expect(lines.some((line) => line.includes('no longer matches its sha256'))).toBe(true);
  });

  it('pulls a version once when two workers sharing the cache materialize it at the same moment', async () => {
    const info = (await registry.get('main')) as ModelVersionInfo;
    const cacheDir = join(workDir, 'shared-cache');
    const lines: string[] = [];
    const options = { cacheDir, variant: 'fp32' as const, log: (line: string) => lines.push(line) };
    hub.clearRequests();
    const [first, second] = await Promise.all([
      registry.materialize(info, options),
      registry.materialize(info, options),
    ]);
    expect(first).toBe(second);
    expect(await readFile(join(first, 'onnx/model.onnx'))).toEqual(graphs.v2);
    const graphDownloads = hub.requests.filter(
      (request) => request.server === 'cdn' && request.method === 'GET',
    );
    expect(graphDownloads).toHaveLength(1);
    expect(lines.some((line) => line.startsWith('another process is pulling into'))).toBe(true);
  });

  it('materializes the int8 variant, and names what a version lacks', async () => {
    const cacheDir = join(workDir, 'cache');
    const main = (await registry.get('main')) as ModelVersionInfo;
    const int8Dir = await registry.materialize(main, { cacheDir, variant: 'int8' });
    expect(await readFile(join(int8Dir, 'onnx/model_quantized.onnx'))).toEqual(
      Buffer.concat([Buffer.from('int8'), graphs.v2]),
    );

    const copied = (await registry.get('copied-report')) as ModelVersionInfo;
    await expect(registry.materialize(copied, { cacheDir, variant: 'int8' })).rejects.toThrow(
      new RegExp(
        `^cannot materialize version ${copied.id} \\(${LOCATION}@${copied.id}\\): .*has no onnx/model_quantized\\.onnx`,
      ),
    );
    await expect(
      registry.materialize({ id: 'main', location: `${LOCATION}@main` }, { cacheDir, variant: 'fp32' }),
    ).rejects.toThrow('does not pin a commit');
    const unknown = 'f'.repeat(40);
    await expect(
      registry.materialize(
        { id: unknown, location: `${LOCATION}@${unknown}` },
        { cacheDir, variant: 'fp32' },
      ),
    ).rejects.toThrow(
      `cannot materialize version ${unknown} (${LOCATION}@${unknown}): revision ${unknown} not found in ${REPO}`,
    );
  });

  it('names a missing repository, a refused or missing token, without ever printing the token', async () => {
    const missing = await failureOf(
      openModelRegistry('hf://models/acme/nothing', { endpoint: hub.endpoint, token: TOKEN }).list(),
    );
    expect(missing).toBeInstanceOf(ModelRegistryError);
    expect(missing.message).toMatch(
      /^listing the branches of hf:\/\/models\/acme\/nothing failed: not found \(404: Repository not found\); check the repo name and HF_ENDPOINT$/,
    );

    const anonymous = await failureOf(openModelRegistry(LOCATION, { endpoint: hub.endpoint }).list());
    expect(anonymous.message).toContain('failed: the Hub needs a token (401: Repository not found)');

    const wrong = `${TOKEN}Wrong`;
    const refused = await failureOf(
      openModelRegistry(LOCATION, { endpoint: hub.endpoint, token: wrong }).get('main'),
    );
    expect(refused.message).toContain(
      'the Hub refused the token (401: Invalid credentials in Authorization header)',
    );
    expect(refused.message).not.toContain(TOKEN);

    expect(() => openModelRegistry(LOCATION, { endpoint: hub.endpoint, token: 'not-a-token' })).toThrow(
      'HF_TOKEN is not a Hugging Face token (they start with hf_)',
    );
  });

  it('says when the Hub refuses access or fails while reading a version', async () => {
    hub.failNext(1, { status: 403 });
    const forbidden = await failureOf(registry.list());
    expect(forbidden.message).toMatch(
      /failed: not allowed \(403: Injected failure\); check that HF_TOKEN can read/,
    );

    hub.failNext(1, { status: 503, match: (request) => request.path.includes('paths-info') });
    const down = await failureOf(registry.get('main'));
    expect(down.message).toMatch(
      new RegExp(
        `^reading commit ${commits.v2} of ${LOCATION} failed: the Hub at http://127\\.0\\.0\\.1:\\d+ answered 503`,
      ),
    );
    expect(down.message.split('\n')).toHaveLength(1);
  });

  it('says the Hub is unreachable when nothing listens at the endpoint', async () => {
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const endpoint = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((done) => closed.close(done));

    const failure = await failureOf(openModelRegistry(LOCATION, { endpoint, token: TOKEN }).list());

    expect(failure.message).toMatch(
      new RegExp(
        `^listing the branches of ${LOCATION} failed: cannot reach the Hub at ${endpoint} \\(.*ECONNREFUSED.*\\); check HF_ENDPOINT and the network$`,
      ),
    );
  });
});
