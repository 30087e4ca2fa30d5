import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LabelledExample, SentimentLabel } from '@reputation-monitor/contracts';
import { ConcurrentChangeError, DatasetStore, MANIFEST_PATH } from './dataset-store';
import { LocalDatasetBackend, lockLocation } from './local-backend';
import {
  DatasetError,
  buildManifest,
  encodeManifest,
  encodeShard,
  sha256Hex,
  shardInfo,
  shardPath,
} from './manifest';

function example(text: string, label: SentimentLabel, at: number): LabelledExample {
  const id = createHash('sha256').update(text).digest('hex').slice(0, 32);
  return { id, text, label, source: '', origin: 'feedback', at };
}

const first = [example('great service', 'positive', 1_000), example('awful wait', 'negative', 2_000)];
const second = [example('opening hours?', 'neutral', 3_000)];
const BATCH_1 = '20260101T000001000Z-aaaaaa';
const BATCH_2 = '20260101T000002000Z-bbbbbb';
const BATCH_3 = '20260101T000003000Z-cccccc';

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof Error)) throw new Error('expected a rejection');
  return error;
}

describe('LocalDatasetBackend through DatasetStore', () => {
  let dir: string;
  let store: DatasetStore;

  beforeEach(async () => {
    dir = join(await mkdtemp(join(tmpdir(), 'dataset-store-')), 'store');
    store = new DatasetStore(new LocalDatasetBackend(dir));
  });

  afterEach(async () => {
    await rm(join(dir, '..'), { recursive: true, force: true });
  });

  it('appends batches as immutable snapshots named by their manifest hash', async () => {
    expect(await store.head()).toBeUndefined();
    const one = await store.appendBatch(BATCH_1, first);
    expect(one.written).toBe(true);
    expect(one.snapshot.ref.revision).toMatch(/^[0-9a-f]{64}$/);
    expect(one.snapshot.ref.revision).toBe(one.snapshot.ref.manifestSha256);
    expect(one.snapshot.ref.location).toBe(`${dir}@${one.snapshot.ref.revision}`);
    expect((await readFile(join(dir, 'HEAD'), 'utf8')).trim()).toBe(one.snapshot.ref.revision);
    expect(await readFile(join(dir, shardPath(BATCH_1)))).toEqual(encodeShard(first));

    const two = await store.appendBatch(BATCH_2, second);
    expect(two.snapshot.ref.examples).toBe(3);
    expect((await store.read()).records).toEqual([...first, ...second]);
    // An older revision still reads exactly what it held.
    const older = await store.read(one.snapshot.ref.revision);
    expect(older.records).toEqual(first);
    expect(older.ref).toEqual(one.snapshot.ref);
  });

  it('writes nothing for a batch that is already there', async () => {
    const written = await store.appendBatch(BATCH_1, first);
    const again = await store.appendBatch(BATCH_1, first);
    expect(again).toEqual({ snapshot: written.snapshot, written: false });
    expect((await readFile(join(dir, 'HEAD'), 'utf8')).trim()).toBe(written.snapshot.ref.revision);
    await expect(store.appendBatch(BATCH_2, [])).rejects.toThrow(`export batch ${BATCH_2} is empty`);
  });

  it('deletes examples by writing a v2 shard and removing the old file', async () => {
    const before = await store.appendBatch(BATCH_1, first);
    await store.appendBatch(BATCH_2, second);

    const { snapshot, removed } = await store.deleteExamples([first[0].id, 'f'.repeat(32)], 'user asked');
    expect(removed).toBe(1);
    expect(existsSync(join(dir, shardPath(BATCH_1)))).toBe(false);
    expect(await readFile(join(dir, shardPath(BATCH_1, 2)))).toEqual(encodeShard([first[1]]));
    expect(snapshot?.manifest.shards.map((shard) => shard.path)).toEqual([
      shardPath(BATCH_1, 2),
      shardPath(BATCH_2),
    ]);
    const deletion = snapshot?.manifest.deletions[0];
    expect(deletion).toMatchObject({ reason: 'user asked', shards: [shardPath(BATCH_1, 2)] });
    expect(JSON.stringify(snapshot?.manifest)).not.toContain(first[0].text); // ids and reasons, never texts
    expect((await store.read()).records).toEqual([first[1], ...second]);

    // The older snapshot's shard is gone, and reading it says so.
    const stale = await failureOf(store.read(before.snapshot.ref.revision));
    expect(stale).toBeInstanceOf(DatasetError);
    expect(stale.message).toBe(
      `${dir}@${before.snapshot.ref.revision}: ${shardPath(BATCH_1)} is gone (a later deletion replaced it; read a newer snapshot)`,
    );

    expect(await store.deleteExamples([first[0].id], 'again')).toMatchObject({ removed: 0 });
  });

  it('removes a superseded shard a crash left behind, at the next commit or when the deletion is run again', async () => {
    await store.appendBatch(BATCH_1, first);
    await store.deleteExamples([first[0].id], 'user asked');
    // As if the process had died right after HEAD moved: the old shard, with the deleted text, is still there.
    const leftover = join(dir, shardPath(BATCH_1));
    await writeFile(leftover, encodeShard(first));
    // The operator runs the deletion again: nothing left in the head to remove, and the file goes.
    expect(await store.deleteExamples([first[0].id], 'user asked')).toMatchObject({ removed: 0 });
    expect(existsSync(leftover)).toBe(false);
    // Any later commit sweeps too (a temporary file of a writer that died, here).
    await writeFile(leftover, encodeShard(first));
    await writeFile(join(dir, 'data', 'x.jsonl.tmp'), 'partial');
    await store.appendBatch(BATCH_2, second);
    expect(existsSync(leftover)).toBe(false);
    expect((await readdir(join(dir, 'data'))).sort()).toEqual(
      [shardPath(BATCH_1, 2), shardPath(BATCH_2)].map((path) => path.slice('data/'.length)).sort(),
    );
    expect((await store.read()).records).toEqual([first[1], ...second]);
  });

  it('refuses a change computed from a head that has moved', async () => {
    await store.appendBatch(BATCH_1, first);
    const backend = new LocalDatasetBackend(dir);
    const seen = await backend.head();
    await new DatasetStore(new LocalDatasetBackend(dir)).appendBatch(BATCH_2, second);

    const content = encodeShard(second);
    const manifest = encodeManifest(
      buildManifest([shardInfo(shardPath(BATCH_3), BATCH_3, content, second)], [], 'stale'),
    );
    const error = await failureOf(
      backend.commit({
        files: [{ path: shardPath(BATCH_3), content }],
        deletedPaths: [],
        manifest,
        message: 'stale',
        parent: seen?.revision,
      }),
    );
    expect(error).toBeInstanceOf(ConcurrentChangeError);
    expect(existsSync(join(dir, shardPath(BATCH_3)))).toBe(false);
  });

  it('lets two writers append at once: the loser re-reads and appends on top', async () => {
    const other = new DatasetStore(new LocalDatasetBackend(dir));
    await Promise.all([store.appendBatch(BATCH_1, first), other.appendBatch(BATCH_2, second)]);
    const { manifest, records } = await store.read();
    expect(manifest.shards.map((shard) => shard.batchId).sort()).toEqual([BATCH_1, BATCH_2]);
    expect(records).toHaveLength(3);
  });

  it('refuses paths outside its data folder and revisions that are not hashes', async () => {
    const { snapshot } = await store.appendBatch(BATCH_1, first);
    const backend = new LocalDatasetBackend(dir);
    for (const path of ['../outside.jsonl', 'data/../../outside.jsonl', '/etc/passwd', 'data/sub/x.jsonl']) {
      await expect(backend.read(snapshot.ref.revision, path)).rejects.toThrow(
        `refusing shard path "${path}"`,
      );
    }
    const manifest = encodeManifest(buildManifest([], [], 'evil'));
    await expect(
      backend.commit({
        files: [{ path: 'data/../../escape.jsonl', content: Buffer.from('x') }],
        deletedPaths: [],
        manifest,
        message: 'evil',
        parent: snapshot.ref.revision,
      }),
    ).rejects.toThrow(DatasetError);
    expect(existsSync(join(dir, '..', '..', 'escape.jsonl'))).toBe(false);
    await expect(backend.read('../HEAD', MANIFEST_PATH)).rejects.toThrow('is not a revision (64 hex digits)');
    await expect(backend.read(sha256Hex('nothing'), MANIFEST_PATH)).rejects.toThrow(
      `has no snapshot ${sha256Hex('nothing')}`,
    );
  });
});

describe('the dataset lock', () => {
  it('records a lock another writer took over instead of throwing from its renewal timer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dataset-lock-'));
    try {
      // Stale after 2 s: proper-lockfile renews it every second and finds it gone.
      const held = await lockLocation(dir, 2_000);
      held.assertHeld();
      await rm(join(dir, '.lock'), { recursive: true });
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(() => held.assertHeld()).toThrow(ConcurrentChangeError);
      expect(() => held.assertHeld()).toThrow(/another writer took the lock over/);
      await expect(held.release()).resolves.toBeUndefined();
      // The location can be locked again.
      await (await lockLocation(dir)).release();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
