import { DatasetStore } from './dataset-store';
import { HubDatasetBackend, HubConnection } from './hub-backend';
import { LocalDatasetBackend } from './local-backend';
import { DatasetError } from './manifest';

const HUB_PREFIX = 'hf://datasets/';
const REPO_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export interface SnapshotLocation {
  /** `hf://datasets/<owner>/<name>` or an absolute directory. */
  store: string;
  /** The snapshot; undefined means the latest. */
  revision: string | undefined;
}

/**
 * Reads `hf://datasets/<owner>/<name>[@<revision>]` (a Hub dataset repository, as the Hub's own hf://
 * file-system paths write it) or `<directory>[@<revision>]` (the local store). A snapshot's location
 * string round-trips through this.
 */
export function parseSnapshotLocation(text: string): SnapshotLocation {
  const trimmed = text.trim();
  const at = trimmed.lastIndexOf('@');
  const store = at > 0 ? trimmed.slice(0, at) : trimmed;
  const revision = at > 0 ? trimmed.slice(at + 1) : undefined;
  if (store === '') throw new DatasetError('a dataset location is empty');
  if (revision !== undefined && !/^[A-Za-z0-9._/-]{1,128}$/.test(revision))
    throw new DatasetError(`"${revision}" is not a revision (in "${text}")`);
  if (store.startsWith(HUB_PREFIX)) {
    const repo = store.slice(HUB_PREFIX.length);
    if (!REPO_PATTERN.test(repo)) throw new DatasetError(`"${store}" must be hf://datasets/<owner>/<name>`);
  } else if (/^[a-z]+:\/\//i.test(store)) {
    throw new DatasetError(`"${store}": only hf://datasets/<owner>/<name> or a directory is supported`);
  }
  return { store, revision };
}

/** The store at a location (see parseSnapshotLocation, without the revision). */
export function openDatasetStore(store: string, hub: HubConnection): DatasetStore {
  if (store.startsWith(HUB_PREFIX)) {
    return new DatasetStore(new HubDatasetBackend({ ...hub, repo: store.slice(HUB_PREFIX.length) }));
  }
  return new DatasetStore(new LocalDatasetBackend(store));
}

export function hubDatasetLocation(repo: string): string {
  return `${HUB_PREFIX}${repo}`;
}
