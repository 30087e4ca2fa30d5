import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { lock } from 'proper-lockfile';
import { dirname, join, resolve } from 'node:path';
import { ConcurrentChangeError, DatasetBackend, DatasetCommit, MANIFEST_PATH } from './dataset-store';
import { DatasetError, sha256Hex } from './manifest';

/** A lock older than this was left by a writer that died; it is broken. */
const STALE_LOCK_MS = 60_000;

/**
 * The embedded store: a directory on local disk, so `npm start` keeps labelled data offline.
 *
 *     <dir>/HEAD                     sha256 of the latest manifest (the revision)
 *     <dir>/manifests/<sha256>.json  every snapshot's manifest, never changed
 *     <dir>/data/<batch>.jsonl       shards, never changed; removed only when a deletion supersedes them
 *
 * A revision is the sha256 of its manifest, so it names the data exactly. Writers take `<dir>/.lock`
 * (O_EXCL), so two processes never interleave a commit.
 */
export class LocalDatasetBackend implements DatasetBackend {
  readonly location: string;

  constructor(dir: string) {
    this.location = resolve(dir);
  }

  async head(): Promise<{ revision: string; manifest: Buffer } | undefined> {
    const revision = await this.headRevision();
    if (revision === undefined) return undefined;
    return { revision, manifest: await this.read(revision, MANIFEST_PATH) };
  }

  async read(revision: string, path: string): Promise<Buffer> {
    if (!/^[0-9a-f]{64}$/.test(revision))
      throw new DatasetError(`${this.location}: "${revision}" is not a revision (64 hex digits)`);
    const file = path === MANIFEST_PATH ? this.manifestFile(revision) : this.file(path);
    try {
      return await readFile(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      if (path === MANIFEST_PATH) throw new DatasetError(`${this.location} has no snapshot ${revision}`);
      throw new DatasetError(
        `${this.location}@${revision}: ${path} is gone (a later deletion replaced it; read a newer snapshot)`,
      );
    }
  }

  async removeUnreferenced(): Promise<void> {
    const held = await lockLocation(this.location);
    try {
      const head = await this.head();
      if (head) await this.sweepShards(head.manifest);
    } finally {
      await held.release();
    }
  }

  /** Local revisions are manifest digests: they never move. */
  async resolve(revision: string): Promise<string> {
    return revision;
  }

  async commit(change: DatasetCommit): Promise<string> {
    await mkdir(this.location, { recursive: true });
    const held = await lockLocation(this.location);
    try {
      const head = await this.headRevision();
      if (head !== change.parent)
        throw new ConcurrentChangeError(
          `${this.location} moved to ${head ?? 'nothing'} while a change based on ${change.parent ?? 'nothing'} was prepared`,
        );
      // Shards of the current snapshot are immutable; a path no snapshot references yet (left by a commit that
      // died before HEAD moved, and since rebuilt differently) may be written again.
      const referenced = head === undefined ? new Set<string>() : await this.referencedPaths(head);
      for (const file of change.files) {
        if (referenced.has(file.path)) await this.writeOnce(this.file(file.path), file.content);
        else await atomicWrite(this.file(file.path), file.content);
      }
      const revision = sha256Hex(change.manifest);
      await this.writeOnce(this.manifestFile(revision), change.manifest);
      held.assertHeld();
      await atomicWrite(join(this.location, 'HEAD'), `${revision}\n`);
      // Only after HEAD moved: a crash before leaves the old snapshot whole. The shards a deletion superseded
      // (change.deletedPaths) are among those the new head does not reference.
      await this.sweepShards(change.manifest);
      return revision;
    } finally {
      await held.release();
    }
  }

  private async referencedPaths(revision: string): Promise<Set<string>> {
    return shardPaths(await this.read(revision, MANIFEST_PATH));
  }

  /**
   * Removes every file under data/ the head does not reference, under the writers' lock: a superseded shard
   * whose removal failed or was cut short by a crash (it may hold a deleted text), or a commit's shard left by a
   * crash before HEAD moved. Only deletions make a shard unreferenced, and older snapshots that listed one were
   * unreadable already.
   */
  private async sweepShards(headManifest: Buffer): Promise<void> {
    const keep = shardPaths(headManifest);
    let names: string[];
    try {
      names = await readdir(join(this.location, 'data'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const name of names) {
      if (!keep.has(`data/${name}`)) await rm(join(this.location, 'data', name), { force: true });
    }
  }

  private async headRevision(): Promise<string | undefined> {
    try {
      const text = (await readFile(join(this.location, 'HEAD'), 'utf8')).trim();
      if (!/^[0-9a-f]{64}$/.test(text)) throw new DatasetError(`${this.location}/HEAD is damaged: "${text}"`);
      return text;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  private manifestFile(revision: string): string {
    return join(this.location, 'manifests', `${revision}.json`);
  }

  /** A shard path from a manifest, kept inside the store's directory. */
  private file(path: string): string {
    const full = resolve(this.location, path);
    if (!full.startsWith(this.location + '/') || !/^data\/[A-Za-z0-9._-]+$/.test(path))
      throw new DatasetError(`${this.location}: refusing shard path "${path}"`);
    return full;
  }

  /** Immutable files: writing the same bytes again is a no-op, other bytes are an error. */
  private async writeOnce(file: string, content: Buffer): Promise<void> {
    try {
      const existing = await readFile(file);
      if (existing.equals(content)) return;
      throw new DatasetError(`${file} exists with other content; shards and manifests are never rewritten`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    await atomicWrite(file, content);
  }
}

/** A held lock on a dataset location. */
export interface HeldLock {
  /** Throws if another writer broke the lock since (it judged it stale): HEAD must not move then. */
  assertHeld(): void;
  release(): Promise<void>;
}

/**
 * Waits up to 10 s for other writers; a lock a dead writer left is broken once stale (its holder renews it). A lock
 * broken while held is recorded, not thrown from proper-lockfile's timer (its default, which ends the process).
 */
export async function lockLocation(location: string, staleMs = STALE_LOCK_MS): Promise<HeldLock> {
  const lockfilePath = join(location, '.lock');
  let lost: Error | undefined;
  let release: () => Promise<void>;
  try {
    release = await lock(location, {
      lockfilePath,
      realpath: false,
      stale: staleMs,
      retries: { retries: 200, minTimeout: 50, maxTimeout: 50 },
      onCompromised: (error) => {
        lost = error;
      },
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
    throw new DatasetError(`${location} stayed locked by another writer (${lockfilePath})`);
  }
  return {
    assertHeld() {
      if (lost)
        throw new ConcurrentChangeError(
          `${location}: another writer took the lock over (${lost.message}); nothing was committed`,
        );
    },
    // A lost lock is no longer ours to release.
    release: () => (lost ? Promise.resolve() : release()),
  };
}

async function atomicWrite(file: string, content: Buffer | string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temporary = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temporary, content);
  await rename(temporary, file);
}

/** The shard paths a manifest lists. */
function shardPaths(manifest: Buffer): Set<string> {
  const parsed = JSON.parse(manifest.toString('utf8')) as { shards?: Array<{ path: string }> };
  return new Set((parsed.shards ?? []).map((shard) => shard.path));
}
