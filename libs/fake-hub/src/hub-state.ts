import { createHash } from 'node:crypto';

/**
 * The git-like state behind the fake Hub, with no HTTP in it: repositories, branches pointing at commits,
 * and immutable commits, each a full map path → file with its parent, title and date.
 */
export type RepoType = 'model' | 'dataset';

export interface StoredFile {
  content: Buffer;
  /** Stored through LFS: git holds a pointer, the bytes live in the repo's LFS storage. */
  lfs: boolean;
  /** Git blob id of what git stores: the content itself, or the LFS pointer. */
  gitOid: string;
  sha256: string;
}

export interface CommitRecord {
  id: string;
  parent: string | undefined;
  title: string;
  description: string;
  author: string;
  date: Date;
  files: ReadonlyMap<string, StoredFile>;
}

export interface RepoRecord {
  type: RepoType;
  name: string;
  private: boolean;
  createdAt: Date;
  /** Branch → commit id. */
  branches: Map<string, string>;
  commits: Map<string, CommitRecord>;
  /** sha256 → bytes received through the LFS batch API. */
  lfsObjects: Map<string, Buffer>;
}

export type FileOperation =
  | { kind: 'put'; path: string; file: StoredFile }
  | { kind: 'delete'; path: string }
  | { kind: 'deleteFolder'; path: string };

export interface NewCommit {
  title: string;
  description?: string;
  author?: string;
  /** When set, the branch head must be this commit (the Hub's compare-and-swap). */
  parentCommit?: string;
  operations: readonly FileOperation[];
}

/** A refusal with the status, message and `X-Error-Code` the real Hub would answer. */
export class HubError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errorCode?: string,
  ) {
    super(message);
  }
}

export const DEFAULT_BRANCH = 'main';
/** What the Hub answers when `parentCommit` is no longer the branch head (huggingface_hub's own tests check it). */
export const COMMIT_CONFLICT_MESSAGE = 'A commit has happened since. Please refresh and try again.';
// What the Hub puts in a repo's first commit.
const INITIAL_GITATTRIBUTES = [
  '*.bin filter=lfs diff=lfs merge=lfs -text',
  '*.onnx filter=lfs diff=lfs merge=lfs -text',
  '*.parquet filter=lfs diff=lfs merge=lfs -text',
  '*.safetensors filter=lfs diff=lfs merge=lfs -text',
  '',
].join('\n');
const FULL_COMMIT = /^[0-9a-f]{40}$/;
const SHORT_COMMIT = /^[0-9a-f]{7,39}$/;

export function sha256Hex(content: Buffer | string): string {
  return createHash('sha256').update(content).digest('hex');
}

/** Git's id of a blob: sha1 of "blob <size>\0<content>". */
export function gitBlobOid(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

/** The pointer git keeps for an LFS file. */
export function lfsPointer(sha256: string, size: number): Buffer {
  return Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${size}\n`);
}

export function storedFile(content: Buffer, lfs: boolean): StoredFile {
  const sha256 = sha256Hex(content);
  return {
    content,
    lfs,
    sha256,
    gitOid: gitBlobOid(lfs ? lfsPointer(sha256, content.length) : content),
  };
}

export function repoKey(type: RepoType, name: string): string {
  return `${type}s/${name}`;
}

/** Refuses what git or the Hub would: absolute paths, `..`, empty segments. */
export function checkRepoPath(path: string): void {
  const segments = path.split('/');
  if (path === '' || segments.some((segment) => segment === '' || segment === '.' || segment === '..')) {
    throw new HubError(400, `Invalid path in repo: "${path}"`);
  }
}

export class HubState {
  private readonly repos = new Map<string, RepoRecord>();
  // Makes two otherwise identical commits (same tree, parent, title, second) distinct.
  private sequence = 0;

  find(type: RepoType, name: string): RepoRecord | undefined {
    return this.repos.get(repoKey(type, name));
  }

  require(type: RepoType, name: string): RepoRecord {
    const repo = this.find(type, name);
    if (!repo) throw new HubError(404, 'Repository not found', 'RepoNotFound');
    return repo;
  }

  /** A new repo whose main branch holds the Hub's initial commit (`.gitattributes` only). */
  createRepo(type: RepoType, name: string, isPrivate: boolean): RepoRecord {
    if (this.find(type, name)) throw new HubError(409, `You already created this ${type} repo`);
    const repo: RepoRecord = {
      type,
      name,
      private: isPrivate,
      createdAt: new Date(),
      branches: new Map(),
      commits: new Map(),
      lfsObjects: new Map(),
    };
    this.repos.set(repoKey(type, name), repo);
    const initial = this.record(
      repo,
      undefined,
      new Map([['.gitattributes', storedFile(Buffer.from(INITIAL_GITATTRIBUTES), false)]]),
      {
        title: 'initial commit',
        author: 'system',
      },
    );
    repo.branches.set(DEFAULT_BRANCH, initial.id);
    return repo;
  }

  /** A branch name (or `refs/heads/…`, or HEAD), a full commit id or an unambiguous prefix of one. */
  resolve(repo: RepoRecord, revision: string): CommitRecord {
    const branch = revision === 'HEAD' ? DEFAULT_BRANCH : revision.replace(/^refs\/heads\//, '');
    const byBranch = repo.branches.get(branch);
    if (byBranch) return repo.commits.get(byBranch) as CommitRecord;
    if (FULL_COMMIT.test(revision) && repo.commits.has(revision))
      return repo.commits.get(revision) as CommitRecord;
    if (SHORT_COMMIT.test(revision)) {
      const matches = [...repo.commits.keys()].filter((id) => id.startsWith(revision));
      if (matches.length === 1) return repo.commits.get(matches[0]) as CommitRecord;
    }
    throw new HubError(404, `Invalid rev id: ${revision}`, 'RevisionNotFound');
  }

  head(repo: RepoRecord, branch: string): CommitRecord | undefined {
    const id = repo.branches.get(branch);
    return id === undefined ? undefined : repo.commits.get(id);
  }

  /** Applies the operations on top of the branch head as one commit; nothing changes when any is refused. */
  commit(repo: RepoRecord, branch: string, change: NewCommit): CommitRecord {
    const head = this.head(repo, branch);
    if (!head) throw new HubError(404, `Invalid rev id: ${branch}`, 'RevisionNotFound');
    if (change.parentCommit !== undefined && !sameCommit(head.id, change.parentCommit)) {
      throw new HubError(412, COMMIT_CONFLICT_MESSAGE);
    }
    const files = new Map(head.files);
    for (const operation of change.operations) {
      checkRepoPath(operation.path);
      if (operation.kind === 'put') {
        files.set(operation.path, operation.file);
      } else if (operation.kind === 'delete') {
        if (!files.delete(operation.path)) {
          throw new HubError(
            404,
            `Cannot delete ${operation.path}: it does not exist at ${branch}`,
            'EntryNotFound',
          );
        }
      } else {
        const prefix = `${operation.path}/`;
        const inside = [...files.keys()].filter((path) => path.startsWith(prefix));
        if (inside.length === 0) {
          throw new HubError(
            404,
            `Cannot delete folder ${operation.path}: it does not exist at ${branch}`,
            'EntryNotFound',
          );
        }
        for (const path of inside) files.delete(path);
      }
    }
    const created = this.record(repo, head.id, files, change);
    repo.branches.set(branch, created.id);
    return created;
  }

  createBranch(
    repo: RepoRecord,
    branch: string,
    startingPoint: string | undefined,
    overwrite: boolean,
  ): CommitRecord {
    if (branch === '' || /\s|\.\.|^\/|\/$|\/\//.test(branch))
      throw new HubError(400, `Invalid branch name: "${branch}"`);
    if (repo.branches.has(branch) && !overwrite) throw new HubError(409, 'Reference already exists');
    const start = this.resolve(repo, startingPoint ?? DEFAULT_BRANCH);
    repo.branches.set(branch, start.id);
    return start;
  }

  deleteBranch(repo: RepoRecord, branch: string): void {
    if (!repo.branches.has(branch)) throw new HubError(404, `Invalid rev id: ${branch}`, 'RevisionNotFound');
    if (branch === DEFAULT_BRANCH) throw new HubError(403, 'You cannot delete the default branch');
    repo.branches.delete(branch);
  }

  /** The revision's commit and its ancestors, newest first. */
  history(repo: RepoRecord, revision: string): CommitRecord[] {
    const commits: CommitRecord[] = [];
    for (let commit: CommitRecord | undefined = this.resolve(repo, revision); commit;) {
      commits.push(commit);
      commit = commit.parent === undefined ? undefined : repo.commits.get(commit.parent);
    }
    return commits;
  }

  private record(
    repo: RepoRecord,
    parent: string | undefined,
    files: ReadonlyMap<string, StoredFile>,
    change: { title: string; description?: string; author?: string },
  ): CommitRecord {
    const date = new Date();
    const tree = [...files]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([path, file]) => `${file.gitOid} ${path}`);
    const id = createHash('sha1')
      .update(
        [
          `parent ${parent ?? ''}`,
          `date ${date.toISOString()}`,
          `seq ${this.sequence++}`,
          change.title,
          ...tree,
        ].join('\n'),
      )
      .digest('hex');
    const commit: CommitRecord = {
      id,
      parent,
      title: change.title,
      description: change.description ?? '',
      author: change.author ?? 'fake-user',
      date,
      files,
    };
    repo.commits.set(id, commit);
    return commit;
  }
}

function sameCommit(headId: string, parentCommit: string): boolean {
  return SHORT_COMMIT.test(parentCommit) || FULL_COMMIT.test(parentCommit)
    ? headId.startsWith(parentCommit)
    : false;
}
