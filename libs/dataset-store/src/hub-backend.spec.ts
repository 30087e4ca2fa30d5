import { createHash } from 'node:crypto';
import type { LabelledExample, SentimentLabel } from '@reputation-monitor/contracts';
import { FakeHub } from '@reputation-monitor/fake-hub';
import { ConcurrentChangeError, DatasetStore, MANIFEST_PATH } from './dataset-store';
import { HubDatasetBackend, hubConnectionFromEnv } from './hub-backend';
import {
  DatasetError,
  buildManifest,
  encodeManifest,
  encodeShard,
  newBatchId,
  shardInfo,
  shardPath,
} from './manifest';

const TOKEN = 'hf_DatasetWriterTokenNeverPrinted';
const READ_ONLY = 'hf_DatasetReaderTokenNeverPrinted';
const REPO = 'acme/labelled-tweets';
const COMMIT_ID = /^[0-9a-f]{40}$/;

function example(text: string, label: SentimentLabel, at: number): LabelledExample {
  const id = createHash('sha256').update(text).digest('hex').slice(0, 32);
  return { id, text, label, source: 'twitter', origin: 'feedback', at };
}

const first = [
  example('love the update', 'positive', 1_000),
  example('app keeps crashing', 'negative', 2_000),
];
const second = [example('it is a phone', 'neutral', 3_000)];
// Fixed ids for the whole file (newBatchId adds random digits).
const BATCH_IDS = [1, 2, 3].map((second) => newBatchId(new Date(Date.UTC(2026, 0, 1, 0, 0, second))));
const batch = (n: 1 | 2 | 3) => BATCH_IDS[n - 1];

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof Error)) throw new Error('expected a rejection');
  return error;
}

describe('HubDatasetBackend against the fake Hub', () => {
  let hub: FakeHub;

  beforeEach(async () => {
    hub = await FakeHub.start({ tokens: [TOKEN], readOnlyTokens: [READ_ONLY] });
  });

  afterEach(async () => {
    await hub.close();
  });

  const backend = (options: { token?: string; branch?: string; fetch?: typeof fetch } = { token: TOKEN }) =>
    new HubDatasetBackend({ endpoint: hub.endpoint, repo: REPO, ...options });
  const storeWith = (options?: { token?: string; branch?: string; fetch?: typeof fetch }) =>
    new DatasetStore(backend(options));
  const commitCount = () => hub.commits('dataset', REPO).length;

  it('appends batches as commits; a revision is a commit id and reads back exactly its data', async () => {
    const store = storeWith();
    expect(store.location).toBe(`hf://datasets/${REPO}`);
    expect(await store.head()).toBeUndefined();

    const one = await store.appendBatch(batch(1), first);
    expect(one.written).toBe(true);
    expect(one.snapshot.ref.revision).toMatch(COMMIT_ID);
    expect(one.snapshot.ref.location).toBe(`hf://datasets/${REPO}@${one.snapshot.ref.revision}`);
    expect(hub.head('dataset', REPO)).toBe(one.snapshot.ref.revision);
    expect(hub.repo('dataset', REPO)).toEqual({ private: true }); // created private by the first commit

    const two = await store.appendBatch(batch(2), second);
    const commits = hub.commits('dataset', REPO);
    expect(commits[0]).toMatchObject({ id: two.snapshot.ref.revision, parent: one.snapshot.ref.revision });
    expect(commits[0].title).toBe(two.snapshot.manifest.change);
    expect(commits[0].paths).toEqual(
      ['.gitattributes', shardPath(batch(1)), shardPath(batch(2)), MANIFEST_PATH].sort(),
    );

    const latest = await store.read();
    expect(latest.ref.revision).toBe(two.snapshot.ref.revision);
    expect(latest.records.map((record) => record.text)).toEqual(
      [...first, ...second].map((record) => record.text),
    );
    const older = await store.read(one.snapshot.ref.revision);
    expect(older.records).toEqual(first);
    expect(older.manifest.totals.examples).toBe(2);
    expect((await store.head())?.ref).toEqual(two.snapshot.ref);
  });

  it('reads a branch named as the revision as the commit it points at, so the snapshot cannot move', async () => {
    const store = storeWith();
    const { snapshot } = await store.appendBatch(batch(1), first);
    const byBranch = await store.read('main');
    expect(byBranch.ref.revision).toBe(snapshot.ref.revision);
    expect(byBranch.ref.location).toBe(`hf://datasets/${REPO}@${snapshot.ref.revision}`);
    const missing = await failureOf(store.read('no-such-branch'));
    expect(missing).toBeInstanceOf(DatasetError);
    expect(missing.message).toBe(`hf://datasets/${REPO} has no revision "no-such-branch"`);
  });

  it('writes nothing for a batch that is already there', async () => {
    const store = storeWith();
    const written = await store.appendBatch(batch(1), first);
    const commits = commitCount();
    hub.clearRequests();

    const again = await store.appendBatch(batch(1), first);
    expect(again).toEqual({ snapshot: written.snapshot, written: false });
    expect(commitCount()).toBe(commits);
    expect(hub.requests.filter((request) => request.method !== 'GET')).toEqual([]);
  });

  it('deletes examples in one new commit: a new shard version, the old one deleted, history kept', async () => {
    const store = storeWith();
    const before = await store.appendBatch(batch(1), first);
    await store.appendBatch(batch(2), second);
    const commits = commitCount();

    const deleted = await store.deleteExamples([first[0].id], 'user asked');
    expect(deleted.removed).toBe(1);
    expect(commitCount()).toBe(commits + 1);
    const files = hub.files('dataset', REPO);
    expect(files.has(shardPath(batch(1)))).toBe(false);
    expect(files.has(shardPath(batch(1), 2))).toBe(true);
    expect(deleted.snapshot?.manifest.shards[0]).toMatchObject({
      path: shardPath(batch(1), 2),
      supersedes: shardPath(batch(1)),
    });
    expect((await store.read()).records.map((record) => record.id)).toEqual([first[1].id, second[0].id]);
    // Git keeps the older snapshot whole.
    expect((await store.read(before.snapshot.ref.revision)).records).toEqual(first);

    // Emptying a shard leaves an empty version, which must read back as such.
    await store.deleteExamples([second[0].id], 'user asked');
    expect(hub.files('dataset', REPO).get(shardPath(batch(2), 2))).toEqual(Buffer.alloc(0));
    expect((await store.read()).records.map((record) => record.id)).toEqual([first[1].id]);
  });

  it('refuses a commit whose parent is no longer the head, and applies nothing', async () => {
    await storeWith().appendBatch(batch(1), first);
    const mine = backend();
    const seen = await mine.head();
    const theirs = await storeWith().appendBatch(batch(2), second);

    const content = encodeShard(second);
    const manifest = encodeManifest(
      buildManifest([shardInfo(shardPath(batch(3)), batch(3), content, second)], [], 'x'),
    );
    const error = await failureOf(
      mine.commit({
        files: [{ path: shardPath(batch(3)), content }],
        deletedPaths: [],
        manifest,
        message: 'stale change',
        parent: seen?.revision,
      }),
    );
    expect(error).toBeInstanceOf(ConcurrentChangeError);
    expect(error.message).toContain(REPO);
    expect(hub.head('dataset', REPO)).toBe(theirs.snapshot.ref.revision);
  });

  it('retries after losing a race to another writer, from the very first snapshot on', async () => {
    const other = storeWith();
    let raced = false;
    // Another writer commits between this writer's head() and its commit.
    const racingFetch: typeof fetch = async (input, init) => {
      if (!raced && init?.method === 'POST' && String(input).includes('/commit/main')) {
        raced = true;
        await other.appendBatch(batch(2), second);
      }
      return fetch(input, init);
    };
    const store = storeWith({ token: TOKEN, fetch: racingFetch });

    const result = await store.appendBatch(batch(1), first);
    expect(raced).toBe(true);
    expect(result.written).toBe(true);
    expect(result.snapshot.manifest.shards.map((shard) => shard.batchId)).toEqual([batch(2), batch(1)]);
    expect(hub.requests.filter((request) => request.status === 412)).toHaveLength(1);
    expect((await store.read()).records).toHaveLength(3);
  });

  it('writes shards that the Hub stores through LFS, and reads them back', async () => {
    await hub.close();
    hub = await FakeHub.start({ tokens: [TOKEN], lfsThresholdBytes: 64 });
    const store = storeWith();
    const { snapshot } = await store.appendBatch(batch(1), first);
    expect(hub.fileInfo('dataset', REPO, 'main', shardPath(batch(1)))?.lfs).toBe(true);
    expect(hub.requests.some((request) => request.server === 'cdn' && request.method === 'PUT')).toBe(true);
    expect((await store.read(snapshot.ref.revision)).records).toEqual(first);
  });

  it('keeps a branch of its own, created from main', async () => {
    hub.seed('dataset', REPO, { 'README.md': '# labelled tweets' }, { private: true });
    const store = storeWith({ token: TOKEN, branch: 'exports' });
    const { snapshot } = await store.appendBatch(batch(1), first);
    expect(hub.head('dataset', REPO, 'exports')).toBe(snapshot.ref.revision);
    expect(hub.files('dataset', REPO, 'main').has(MANIFEST_PATH)).toBe(false);
    expect(hub.files('dataset', REPO, 'exports').has('README.md')).toBe(true);
    expect(await storeWith().head()).toBeUndefined(); // main holds no snapshot
  });

  it('names the repo, the revision and the path of what is missing', async () => {
    const store = storeWith();
    const { snapshot } = await store.appendBatch(batch(1), first);
    const missingFile = await failureOf(backend().read(snapshot.ref.revision, 'data/none.jsonl'));
    expect(missingFile).toBeInstanceOf(DatasetError);
    expect(missingFile.message).toBe(`hf://datasets/${REPO}@${snapshot.ref.revision} has no data/none.jsonl`);

    const missingRevision = await failureOf(store.read('0123456789abcdef0123456789abcdef01234567'));
    expect(missingRevision).toBeInstanceOf(DatasetError);
    expect(missingRevision.message).toMatch(
      /@0123456789abcdef0123456789abcdef01234567: cannot read manifest.json \(the Hub answered 404: Invalid rev id/,
    );
  });

  it('says to set HF_TOKEN when there is none, and never prints a token', async () => {
    hub.seed('dataset', REPO, { 'README.md': '#' }, { private: true });
    const anonymous = await failureOf(storeWith({}).head());
    expect(anonymous).toBeInstanceOf(DatasetError);
    expect(anonymous.message).toMatch(/needs a token .*set HF_TOKEN/);
    expect(anonymous.message).toContain(REPO);

    const write = await failureOf(
      storeWith({})
        .appendBatch(batch(1), first)
        .then(() => undefined),
    );
    expect(write.message).toMatch(/HF_TOKEN/);

    const unknownToken = 'hf_UnknownTokenThatMustNotLeak';
    const refused = await failureOf(storeWith({ token: unknownToken }).head());
    expect(refused.message).toMatch(/refused the token .*check that HF_TOKEN/);
    expect(refused.message).not.toContain(unknownToken);

    const readOnly = await failureOf(storeWith({ token: READ_ONLY }).appendBatch(batch(1), first));
    expect(readOnly.message).toMatch(/403.*write access/);
    expect(readOnly.message).not.toContain(READ_ONLY);

    const notAToken = await failureOf(storeWith({ token: 'not-a-token' }).head());
    expect(notAToken.message).toBe('HF_TOKEN is not a Hugging Face token (they start with hf_)');
  });

  it('turns 503s, dropped connections and an unreachable endpoint into one clear line', async () => {
    const store = storeWith();
    await store.appendBatch(batch(1), first);

    hub.failNext(1);
    const unavailable = await failureOf(store.head());
    expect(unavailable).toBeInstanceOf(DatasetError);
    expect(unavailable.message).toMatch(
      new RegExp(`hf://datasets/${REPO} failed: the Hub at .* answered 503`),
    );
    expect(unavailable.message).toMatch(/try again later, or check HF_ENDPOINT/);
    expect(unavailable.message).not.toContain('\n');
    expect(unavailable.message).not.toContain(TOKEN);

    hub.failNext(1, { match: (request) => request.path.endsWith('/commit/main') });
    const commitRefused = await failureOf(store.appendBatch(batch(2), second));
    expect(commitRefused.message).toMatch(/committing .* failed: .*503/);

    hub.dropNext(1);
    const dropped = await failureOf(store.head());
    expect(dropped.message).toMatch(/cannot reach the Hub at .*; check HF_ENDPOINT and the network/);

    // A port nothing listens on any more.
    const closed = await FakeHub.start();
    const closedEndpoint = closed.endpoint;
    await closed.close();
    const unreachable = await failureOf(
      new DatasetStore(new HubDatasetBackend({ endpoint: closedEndpoint, token: TOKEN, repo: REPO })).head(),
    );
    expect(unreachable.message).toContain(`cannot reach the Hub at ${closedEndpoint} (`);
    expect(unreachable.message).toMatch(/ECONNREFUSED/);
  });

  it('refuses a shard whose bytes do not match the manifest', async () => {
    const good = encodeShard(first);
    const manifest = buildManifest([shardInfo(shardPath(batch(1)), batch(1), good, first)], [], 'seeded');
    const tampered = encodeShard([{ ...first[0], label: 'negative' }, first[1]]);
    const revision = hub.seed('dataset', REPO, {
      [MANIFEST_PATH]: encodeManifest(manifest),
      [shardPath(batch(1))]: tampered,
    });

    const error = await failureOf(storeWith().read(revision));
    expect(error).toBeInstanceOf(DatasetError);
    expect(error.message).toContain(`${shardPath(batch(1))} does not match the manifest`);
    await expect(storeWith().deleteExamples([first[0].id], 'x')).rejects.toThrow(DatasetError);
  });

  it('reads its connection from HF_ENDPOINT and HF_TOKEN', () => {
    expect(hubConnectionFromEnv({})).toEqual({ endpoint: 'https://huggingface.co', token: undefined });
    expect(hubConnectionFromEnv({ HF_ENDPOINT: 'http://mirror', HF_TOKEN: 'hf_x' })).toEqual({
      endpoint: 'http://mirror',
      token: 'hf_x',
    });
    expect(() => new HubDatasetBackend({ endpoint: 'not a url', repo: REPO })).toThrow(
      'HF_ENDPOINT is not a URL',
    );
    expect(() => new HubDatasetBackend({ endpoint: hub.endpoint, repo: 'no-owner' })).toThrow(DatasetError);
  });
});
