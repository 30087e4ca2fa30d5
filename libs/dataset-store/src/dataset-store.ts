import { LabelledExample } from '@reputation-monitor/contracts';
import {
  DatasetError,
  DatasetManifest,
  DeletionRecord,
  ShardInfo,
  SnapshotRef,
  buildManifest,
  decodeManifest,
  decodeShard,
  encodeManifest,
  encodeShard,
  nextShardPath,
  sha256Hex,
  shardInfo,
  shardPath,
  verifyShard,
} from './manifest';

/** Where every backend keeps the manifest of a snapshot. */
export const MANIFEST_PATH = 'manifest.json';

export interface FileChange {
  path: string;
  content: Buffer;
}

/** One atomic change of the store: new files, removed files and the new manifest, on top of `parent`. */
export interface DatasetCommit {
  files: FileChange[];
  deletedPaths: string[];
  manifest: Buffer;
  message: string;
  /** The revision the change was computed from; undefined for the first snapshot. */
  parent: string | undefined;
}

/**
 * What a storage backend must do; everything else (shards, manifests, idempotent exports, deletions) is
 * shared in DatasetStore. Backends: a local directory (LocalDatasetBackend) and a Hugging Face Hub
 * dataset repository (HubDatasetBackend).
 */
export interface DatasetBackend {
  /** `hf://datasets/<owner>/<name>` or the directory; a snapshot's location is this plus `@<revision>`. */
  readonly location: string;
  /** The latest revision and its manifest bytes; undefined when nothing was ever written. */
  head(): Promise<{ revision: string; manifest: Buffer } | undefined>;
  /** A file as of a revision; throws DatasetError naming the file when it is not there. */
  read(revision: string, path: string): Promise<Buffer>;
  /**
   * The immutable revision a name stands for (a branch or tag of a Hub repo: its current commit), so a
   * snapshot is recorded, and read, by what cannot move. A revision already immutable is returned as it is.
   */
  resolve(revision: string): Promise<string>;
  /**
   * Removes stored files the head does not reference (a superseded shard a crash left behind: it may hold a
   * deleted text). A deletion that finds nothing left to remove calls it, so running it again finishes it.
   */
  removeUnreferenced(): Promise<void>;
  /**
   * Applies the change atomically and returns the new revision. Throws ConcurrentChangeError when the head
   * is no longer `parent` (another writer got there first): the caller re-reads and tries again.
   */
  commit(change: DatasetCommit): Promise<string>;
}

export class ConcurrentChangeError extends DatasetError {}

export interface Snapshot {
  ref: SnapshotRef;
  manifest: DatasetManifest;
}

export interface SnapshotContents extends Snapshot {
  /** Every record of every shard, in shard order then line order (see materializeExamples). */
  records: LabelledExample[];
}

/** Tries of a change that loses a race with another writer. */
const COMMIT_ATTEMPTS = 3;

/** Labelled examples as immutable, addressable snapshots over one backend. */
export class DatasetStore {
  constructor(readonly backend: DatasetBackend) {}

  get location(): string {
    return this.backend.location;
  }

  async head(): Promise<Snapshot | undefined> {
    const head = await this.backend.head();
    if (!head) return undefined;
    const manifest = decodeManifest(head.manifest, `${this.location}@${head.revision} ${MANIFEST_PATH}`);
    return { ref: this.ref(head.revision, head.manifest, manifest), manifest };
  }

  /**
   * Appends one export batch as a new shard. Idempotent on `batchId`: when the head already holds the
   * batch (an earlier attempt wrote it, then died before clearing the buffer), nothing is written and
   * the head is returned, so a batch lands exactly once.
   */
  async appendBatch(
    batchId: string,
    examples: readonly LabelledExample[],
  ): Promise<{ snapshot: Snapshot; written: boolean }> {
    if (examples.length === 0) throw new DatasetError(`export batch ${batchId} is empty`);
    for (let attempt = 1; ; attempt++) {
      const head = await this.head();
      if (head?.manifest.shards.some((shard) => shard.batchId === batchId))
        return { snapshot: head, written: false };
      const path = shardPath(batchId);
      const content = encodeShard(examples);
      const shards = [...(head?.manifest.shards ?? []), shardInfo(path, batchId, content, examples)];
      const manifest = buildManifest(
        shards,
        head?.manifest.deletions ?? [],
        `append ${examples.length} examples (batch ${batchId})`,
      );
      try {
        const snapshot = await this.commit(
          { files: [{ path, content }], deletedPaths: [], parent: head?.ref.revision },
          manifest,
        );
        return { snapshot, written: true };
      } catch (error) {
        if (!(error instanceof ConcurrentChangeError) || attempt >= COMMIT_ATTEMPTS) throw error;
      }
    }
  }

  /** A snapshot's manifest and records, each shard checked against its sha256; the head when no revision is given. */
  async read(revision?: string): Promise<SnapshotContents> {
    let snapshot: Snapshot;
    if (revision === undefined) {
      const head = await this.head();
      if (!head) throw new DatasetError(`${this.location} holds no snapshot yet`);
      snapshot = head;
    } else {
      const commit = await this.backend.resolve(revision);
      const bytes = await this.backend.read(commit, MANIFEST_PATH);
      const manifest = decodeManifest(bytes, `${this.location}@${commit} ${MANIFEST_PATH}`);
      snapshot = { ref: this.ref(commit, bytes, manifest), manifest };
    }
    const records: LabelledExample[] = [];
    for (const shard of snapshot.manifest.shards) {
      const content = await this.backend.read(snapshot.ref.revision, shard.path);
      verifyShard(shard, content);
      records.push(...decodeShard(content, shard.path));
    }
    return { ...snapshot, records };
  }

  /**
   * Removes examples (by id: one id per text) from every shard that holds them. Each such shard is
   * replaced by a new version without them; the manifest records the deletion (ids and reason, never the
   * text). Shards are never edited in place. Returns the new snapshot, or the head when nothing held them.
   */
  async deleteExamples(
    ids: readonly string[],
    reason: string,
  ): Promise<{ snapshot: Snapshot | undefined; removed: number }> {
    const wanted = new Set(ids);
    for (let attempt = 1; ; attempt++) {
      const head = await this.head();
      if (!head) return { snapshot: undefined, removed: 0 };
      const files: FileChange[] = [];
      const deletedPaths: string[] = [];
      const shards: ShardInfo[] = [];
      let removed = 0;
      for (const shard of head.manifest.shards) {
        const content = await this.backend.read(head.ref.revision, shard.path);
        verifyShard(shard, content);
        const records = decodeShard(content, shard.path);
        const kept = records.filter((record) => !wanted.has(record.id));
        if (kept.length === records.length) {
          shards.push(shard);
          continue;
        }
        removed += records.length - kept.length;
        deletedPaths.push(shard.path);
        // An emptied shard stays as an empty version, so its batch stays known to idempotent exports.
        const path = nextShardPath(shard);
        const replacement = encodeShard(kept);
        files.push({ path, content: replacement });
        shards.push(shardInfo(path, shard.batchId, replacement, kept, shard.path));
      }
      if (removed === 0) {
        await this.backend.removeUnreferenced();
        return { snapshot: head, removed: 0 };
      }
      const deletion: DeletionRecord = {
        id: [...wanted].join(','),
        at: new Date().toISOString(),
        reason,
        shards: files.map((file) => file.path),
      };
      const manifest = buildManifest(
        shards,
        [...head.manifest.deletions, deletion],
        `delete ${removed} records of ${wanted.size} example id(s): ${reason}`,
      );
      try {
        const snapshot = await this.commit({ files, deletedPaths, parent: head.ref.revision }, manifest);
        return { snapshot, removed };
      } catch (error) {
        if (!(error instanceof ConcurrentChangeError) || attempt >= COMMIT_ATTEMPTS) throw error;
      }
    }
  }

  private async commit(
    change: Omit<DatasetCommit, 'manifest' | 'message'>,
    manifest: DatasetManifest,
  ): Promise<Snapshot> {
    const bytes = encodeManifest(manifest);
    const revision = await this.backend.commit({ ...change, manifest: bytes, message: manifest.change });
    return { ref: this.ref(revision, bytes, manifest), manifest };
  }

  private ref(revision: string, manifestBytes: Buffer, manifest: DatasetManifest): SnapshotRef {
    return {
      location: `${this.location}@${revision}`,
      revision,
      examples: manifest.totals.examples,
      manifestSha256: sha256Hex(manifestBytes),
    };
  }
}
