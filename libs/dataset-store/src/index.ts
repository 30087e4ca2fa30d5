export { ConcurrentChangeError, DatasetStore, MANIFEST_PATH } from './dataset-store';
export type { DatasetBackend, DatasetCommit, FileChange, Snapshot, SnapshotContents } from './dataset-store';
export { LocalDatasetBackend } from './local-backend';
export { DEFAULT_HUB_ENDPOINT, HubDatasetBackend, hubConnectionFromEnv } from './hub-backend';
export type { HubConnection, HubDatasetBackendOptions } from './hub-backend';
export {
  BATCH_ID_PATTERN,
  DatasetError,
  MANIFEST_FORMAT,
  buildManifest,
  countExamples,
  decodeManifest,
  decodeShard,
  emptyCounts,
  encodeManifest,
  encodeShard,
  newBatchId,
  nextShardPath,
  sha256Hex,
  shardInfo,
  shardPath,
  sumCounts,
  verifyShard,
} from './manifest';
export type {
  DatasetManifest,
  DeletionRecord,
  LabelCounts,
  ShardCounts,
  ShardInfo,
  SnapshotRef,
} from './manifest';
export { hubDatasetLocation, openDatasetStore, parseSnapshotLocation } from './location';
export type { SnapshotLocation } from './location';
export { GoldenSetError, loadGoldenSet, parseGoldenJsonl, parseGoldenPair } from './golden-set';
export type { GoldenItem } from './golden-set';
