import { createHash, randomBytes } from 'node:crypto';
import {
  LabelledExample,
  SENTIMENT_LABELS,
  SentimentLabel,
  decodeExample,
  encodeExample,
} from '@reputation-monitor/contracts';

/**
 * A dataset snapshot is a manifest plus the immutable JSONL shards it lists. Shards are only ever added
 * (one per export batch) or replaced by a new version of themselves (when examples are deleted); their
 * sha256 is in the manifest, so a snapshot read later is byte for byte the one that was written.
 */
export const MANIFEST_FORMAT = 1;

export type LabelCounts = Record<SentimentLabel, number>;

export interface ShardCounts {
  examples: number;
  byLabel: LabelCounts;
  /** Source name ('' for none) -> examples. */
  bySource: Record<string, number>;
  /** Labelling times of the oldest and newest example (ms since epoch); null for an empty shard. */
  timeRange: { from: number; to: number } | null;
}

export interface ShardInfo extends ShardCounts {
  /** Path inside the store, e.g. `data/20261129T190000123Z-a1b2c3.jsonl`. */
  path: string;
  sha256: string;
  bytes: number;
  /** The export batch the shard holds (exports are idempotent on it). */
  batchId: string;
  /** The shard version this one replaced, when examples were deleted from it. */
  supersedes?: string;
}

/** One deletion request: which example (by id) and why; texts are never kept here. */
export interface DeletionRecord {
  id: string;
  at: string;
  reason: string;
  /** Shard versions written without it. */
  shards: string[];
}

export interface DatasetManifest {
  format: typeof MANIFEST_FORMAT;
  createdAt: string;
  /** What produced this snapshot, in one line (the export batch, or the deletion). */
  change: string;
  shards: ShardInfo[];
  /** Sums over the shards (records as stored, before collapsing repeated texts). */
  totals: ShardCounts;
  deletions: DeletionRecord[];
}

/** Where a snapshot is and which one: what a retrain needs to read exactly that data again. */
export interface SnapshotRef {
  /** `hf://datasets/<owner>/<name>@<commit>` or `<directory>@<manifest sha256>`. */
  location: string;
  revision: string;
  examples: number;
  manifestSha256: string;
}

export function emptyCounts(): ShardCounts {
  return {
    examples: 0,
    byLabel: Object.fromEntries(SENTIMENT_LABELS.map((label) => [label, 0])) as LabelCounts,
    // No prototype: a source may be named "constructor" or "__proto__" (SOURCE_PATTERN allows both).
    bySource: Object.create(null) as Record<string, number>,
    timeRange: null,
  };
}

export function countExamples(examples: Iterable<LabelledExample>): ShardCounts {
  const counts = emptyCounts();
  for (const example of examples) addTo(counts, example);
  return counts;
}

function addTo(counts: ShardCounts, example: LabelledExample): void {
  counts.examples++;
  counts.byLabel[example.label]++;
  counts.bySource[example.source] = (counts.bySource[example.source] ?? 0) + 1;
  counts.timeRange = counts.timeRange
    ? { from: Math.min(counts.timeRange.from, example.at), to: Math.max(counts.timeRange.to, example.at) }
    : { from: example.at, to: example.at };
}

export function sumCounts(parts: readonly ShardCounts[]): ShardCounts {
  const total = emptyCounts();
  for (const part of parts) {
    total.examples += part.examples;
    for (const label of SENTIMENT_LABELS) total.byLabel[label] += part.byLabel[label];
    for (const [source, count] of Object.entries(part.bySource))
      total.bySource[source] = (total.bySource[source] ?? 0) + count;
    if (part.timeRange) {
      total.timeRange = total.timeRange
        ? {
            from: Math.min(total.timeRange.from, part.timeRange.from),
            to: Math.max(total.timeRange.to, part.timeRange.to),
          }
        : { ...part.timeRange };
    }
  }
  return total;
}

export function sha256Hex(content: Buffer | string): string {
  return createHash('sha256').update(content).digest('hex');
}

/** A shard's bytes: one encoded example per line, oldest first, newline-terminated. */
export function encodeShard(examples: readonly LabelledExample[]): Buffer {
  const sorted = [...examples].sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return Buffer.from(sorted.map((example) => encodeExample(example) + '\n').join(''), 'utf8');
}

/** Raised for a dataset that cannot be read as written: names the file, line and problem. */
export class DatasetError extends Error {
  override readonly name = 'DatasetError';
}

export function decodeShard(content: Buffer, path: string): LabelledExample[] {
  const examples: LabelledExample[] = [];
  const lines = content.toString('utf8').split('\n');
  lines.forEach((line, index) => {
    if (line === '' && index === lines.length - 1) return;
    const check = decodeExample(line);
    if (!check.ok) throw new DatasetError(`${path} line ${index + 1}: ${check.reason}`);
    examples.push(check.example);
  });
  return examples;
}

export function shardInfo(
  path: string,
  batchId: string,
  content: Buffer,
  examples: readonly LabelledExample[],
  supersedes?: string,
): ShardInfo {
  return {
    path,
    sha256: sha256Hex(content),
    bytes: content.length,
    batchId,
    ...countExamples(examples),
    ...(supersedes !== undefined && { supersedes }),
  };
}

export function buildManifest(
  shards: ShardInfo[],
  deletions: DeletionRecord[],
  change: string,
  createdAt = new Date(),
): DatasetManifest {
  return {
    format: MANIFEST_FORMAT,
    createdAt: createdAt.toISOString(),
    change,
    shards,
    totals: sumCounts(shards),
    deletions,
  };
}

/** Pretty JSON with a trailing newline; its sha256 names a local snapshot. */
export function encodeManifest(manifest: DatasetManifest): Buffer {
  return Buffer.from(JSON.stringify(manifest, null, 2) + '\n', 'utf8');
}

export function decodeManifest(content: Buffer, where: string): DatasetManifest {
  let value: unknown;
  try {
    value = JSON.parse(content.toString('utf8'));
  } catch (error) {
    throw new DatasetError(`${where} is not JSON: ${(error as Error).message}`);
  }
  const manifest = value as Partial<DatasetManifest>;
  if (manifest?.format !== MANIFEST_FORMAT)
    throw new DatasetError(`${where} has format ${String(manifest?.format)}, expected ${MANIFEST_FORMAT}`);
  if (!Array.isArray(manifest.shards) || !Array.isArray(manifest.deletions))
    throw new DatasetError(`${where} lacks its shards or deletions list`);
  for (const [index, shard] of manifest.shards.entries()) {
    if (
      typeof shard?.path !== 'string' ||
      !/^[0-9a-f]{64}$/.test(String(shard.sha256)) ||
      typeof shard.batchId !== 'string'
    )
      throw new DatasetError(`${where} shards[${index}] lacks a path, sha256 or batch id`);
  }
  return manifest as DatasetManifest;
}

/** Checks a shard's bytes against its manifest entry before anything reads them. */
export function verifyShard(shard: ShardInfo, content: Buffer): void {
  const actual = sha256Hex(content);
  if (actual !== shard.sha256 || content.length !== shard.bytes) {
    throw new DatasetError(
      `${shard.path} does not match the manifest (sha256 ${actual.slice(0, 12)}…, ${content.length} bytes; ` +
        `expected ${shard.sha256.slice(0, 12)}…, ${shard.bytes} bytes)`,
    );
  }
}

/** Export batch ids sort by time and are safe in file names and Redis keys: 20261129T190000123Z-a1b2c3. */
export const BATCH_ID_PATTERN = /^[0-9]{8}T[0-9]{9}Z-[0-9a-f]{6}$/;

export function newBatchId(at = new Date()): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace('.', '');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

export function shardPath(batchId: string, version = 1): string {
  return version === 1 ? `data/${batchId}.jsonl` : `data/${batchId}.v${version}.jsonl`;
}

export function nextShardPath(current: ShardInfo): string {
  const match = current.path.match(/\.v(\d+)\.jsonl$/);
  return shardPath(current.batchId, match ? Number(match[1]) + 1 : 2);
}
