import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  checkRepoPath,
  DEFAULT_BRANCH,
  type FileOperation,
  HubError,
  HubState,
  lfsPointer,
  repoKey,
  type CommitRecord,
  type RepoRecord,
  type RepoType,
  type StoredFile,
  storedFile,
} from './hub-state';

/**
 * A stateful Hugging Face Hub on 127.0.0.1 for tests: the parts of the Hub's HTTP API that
 * `@huggingface/hub` and `tools/model-pull` use (repos, branches, commits with regular and LFS files,
 * tree listings, `resolve` downloads), with git-like history, tokens, a second server as the CDN and
 * object storage that LFS files go through, and injectable failures.
 */
export interface FakeHubOptions {
  /** Tokens that can read and write. When omitted, any bearer token is accepted. */
  tokens?: readonly string[];
  /** Tokens that can read but not write (403 on writes). */
  readOnlyTokens?: readonly string[];
  /** Files of at least this many bytes go through LFS, as on the Hub (10 MiB by default); `.onnx` always does. */
  lfsThresholdBytes?: number;
  /** Entries per page of the tree and commit listings; small, so clients must follow the Link header. */
  pageSize?: number;
}

export interface RecordedRequest {
  server: 'hub' | 'cdn';
  method: string;
  /** Path only: signed CDN URLs carry their signature in the query. */
  path: string;
  /** It carried a valid token (on the CDN: a valid signature). Tokens themselves are never kept. */
  authorized: boolean;
  /** The status answered; undefined when the connection was dropped. */
  status?: number;
}

export interface FailureOptions {
  /** Status of the injected answer; 503 unless given. */
  status?: number;
  /** Only requests this accepts count; by default every request, to the Hub or the CDN. */
  match?: (request: Pick<RecordedRequest, 'server' | 'method' | 'path'>) => boolean;
}

export interface SeedOptions {
  branch?: string;
  /** Applies only when seeding creates the repo. */
  private?: boolean;
  message?: string;
  /** Paths to delete in the same commit. */
  deleted?: readonly string[];
}

export interface FakeCommit {
  id: string;
  parent: string | undefined;
  title: string;
  description: string;
  date: Date;
  /** Every file of the commit's tree. */
  paths: string[];
}

export interface FakeFileInfo {
  size: number;
  lfs: boolean;
  /** Git blob id (of the LFS pointer for LFS files). */
  gitOid: string;
  sha256: string;
}

type SeedFiles = Record<string, string | Buffer> | ReadonlyMap<string, string | Buffer>;

interface Caller {
  presented: boolean;
  valid: boolean;
  canWrite: boolean;
}

interface Failure {
  remaining: number;
  /**
   * A status to answer, 'drop' to destroy the connection without answering, 'lose-answer' to handle the
   * request (a commit lands) and then destroy the connection instead of answering, or a delay in ms before
   * handling it.
   */
  outcome: number | 'drop' | 'lose-answer' | { delayMs: number };
  match?: FailureOptions['match'];
}

interface TreeEntry {
  type: 'file' | 'directory';
  path: string;
  size: number;
  oid: string;
  lfs?: { oid: string; size: number; pointerSize: number };
}

const DEFAULT_LFS_THRESHOLD = 10 * 1024 * 1024;
const DEFAULT_PAGE_SIZE = 3;
const REPO_TYPE_BY_SEGMENT: Record<string, RepoType> = { models: 'model', datasets: 'dataset' };

export class FakeHub {
  readonly requests: RecordedRequest[] = [];
  endpoint = '';
  cdnEndpoint = '';
  private readonly state = new HubState();
  private readonly failures: Failure[] = [];
  /** Requests held back by `delayNext`, dropped on close. */
  private readonly delayed = new Set<NodeJS.Timeout>();
  // Signs CDN URLs, so uploads and LFS downloads need the URL the Hub handed out, as with S3.
  private readonly signingKey = randomBytes(32);
  private readonly hub: Server = createServer((request, response) => this.receive('hub', request, response));
  private readonly cdn: Server = createServer((request, response) => this.receive('cdn', request, response));

  private constructor(private readonly options: FakeHubOptions) {}

  static async start(options: FakeHubOptions = {}): Promise<FakeHub> {
    const fake = new FakeHub(options);
    fake.endpoint = await listen(fake.hub);
    fake.cdnEndpoint = await listen(fake.cdn);
    return fake;
  }

  async close(): Promise<void> {
    for (const timer of this.delayed) clearTimeout(timer);
    this.delayed.clear();
    for (const server of [this.hub, this.cdn]) {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
    }
  }

  // ---- test helpers -------------------------------------------------------------------------------

  /** The next `count` requests (that `match` accepts) answer `status` (503 by default) and change nothing. */
  failNext(count: number, options: FailureOptions = {}): void {
    this.failures.push({ remaining: count, outcome: options.status ?? 503, match: options.match });
  }

  /** The next `count` requests (that `match` accepts) get their connection destroyed without an answer. */
  dropNext(count = 1, options: Pick<FailureOptions, 'match'> = {}): void {
    this.failures.push({ remaining: count, outcome: 'drop', match: options.match });
  }

  /**
   * The next `count` requests (that `match` accepts) are carried out, but their answer is lost: the
   * connection is destroyed instead, as when a network or the caller fails right after the Hub committed.
   */
  loseAnswerOfNext(count = 1, options: Pick<FailureOptions, 'match'> = {}): void {
    this.failures.push({ remaining: count, outcome: 'lose-answer', match: options.match });
  }

  /** The next `count` requests (that `match` accepts) are handled only after `delayMs`. */
  delayNext(count: number, delayMs: number, options: Pick<FailureOptions, 'match'> = {}): void {
    this.failures.push({ remaining: count, outcome: { delayMs }, match: options.match });
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  /**
   * Commits `files` (added or replaced) and `deleted` onto a branch directly, as another writer would;
   * creates the repo (with the Hub's initial commit) and the branch (from main) when missing.
   * Returns the new commit id.
   */
  seed(type: RepoType, name: string, files: SeedFiles, options: SeedOptions = {}): string {
    const branch = options.branch ?? DEFAULT_BRANCH;
    const repo = this.state.find(type, name) ?? this.state.createRepo(type, name, options.private ?? false);
    if (!repo.branches.has(branch)) this.state.createBranch(repo, branch, undefined, false);
    const entries = files instanceof Map ? [...files] : Object.entries(files);
    const operations: FileOperation[] = [
      ...entries.map(([path, content]): FileOperation => {
        const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content);
        const file = storedFile(bytes, this.goesToLfs(path, bytes.length));
        if (file.lfs) repo.lfsObjects.set(file.sha256, bytes);
        return { kind: 'put', path, file };
      }),
      ...(options.deleted ?? []).map((path): FileOperation => ({ kind: 'delete', path })),
    ];
    return this.state.commit(repo, branch, {
      title: options.message ?? `Seed ${entries.length} files`,
      operations,
    }).id;
  }

  /** Every file of a revision (branch or commit), path → content. */
  files(type: RepoType, name: string, revision = DEFAULT_BRANCH): Map<string, Buffer> {
    const commit = this.state.resolve(this.state.require(type, name), revision);
    return new Map([...commit.files].map(([path, file]) => [path, file.content]));
  }

  fileInfo(type: RepoType, name: string, revision: string, path: string): FakeFileInfo | undefined {
    const file = this.state.resolve(this.state.require(type, name), revision).files.get(path);
    return file && { size: file.content.length, lfs: file.lfs, gitOid: file.gitOid, sha256: file.sha256 };
  }

  /** The branch's head commit, or undefined when the repo or branch does not exist. */
  head(type: RepoType, name: string, branch = DEFAULT_BRANCH): string | undefined {
    const repo = this.state.find(type, name);
    return repo?.branches.get(branch);
  }

  branches(type: RepoType, name: string): Map<string, string> {
    return new Map(this.state.require(type, name).branches);
  }

  repo(type: RepoType, name: string): { private: boolean } | undefined {
    const repo = this.state.find(type, name);
    return repo && { private: repo.private };
  }

  /** The revision's commit and its ancestors, newest first. */
  commits(type: RepoType, name: string, revision = DEFAULT_BRANCH): FakeCommit[] {
    return this.state.history(this.state.require(type, name), revision).map((commit) => ({
      id: commit.id,
      parent: commit.parent,
      title: commit.title,
      description: commit.description,
      date: commit.date,
      paths: [...commit.files.keys()].sort(),
    }));
  }

  // ---- HTTP ---------------------------------------------------------------------------------------

  private receive(server: 'hub' | 'cdn', request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? '/', 'http://fake');
    const method = request.method ?? 'GET';
    const caller = this.caller(request);
    const record: RecordedRequest = {
      server,
      method,
      path: url.pathname,
      authorized: server === 'hub' ? caller.valid : this.signatureValid(method, url),
    };
    this.requests.push(record);
    response.on('finish', () => (record.status = response.statusCode));

    const failure = this.failures.find(
      (candidate) => candidate.match?.({ server, method, path: url.pathname }) ?? true,
    );
    if (failure) {
      if (--failure.remaining <= 0) this.failures.splice(this.failures.indexOf(failure), 1);
      if (failure.outcome === 'drop') {
        request.socket.destroy();
        return;
      }
      if (failure.outcome === 'lose-answer') {
        response.writeHead = (() => response) as unknown as typeof response.writeHead;
        response.end = (() => {
          request.socket.destroy();
          return response;
        }) as unknown as typeof response.end;
      } else if (typeof failure.outcome === 'object') {
        const { delayMs } = failure.outcome;
        const timer = setTimeout(() => {
          this.delayed.delete(timer);
          this.route(server, request, response, url, caller, record);
        }, delayMs);
        this.delayed.add(timer);
        return;
      }
    }
    if (failure && typeof failure.outcome === 'number') {
      const status = failure.outcome;
      // Read the body first, so the client is not cut off mid-upload.
      request.resume();
      request.on('end', () =>
        refuse(response, new HubError(status, status === 503 ? 'Service Unavailable' : 'Injected failure')),
      );
      return;
    }
    this.route(server, request, response, url, caller, record);
  }

  private route(
    server: 'hub' | 'cdn',
    request: IncomingMessage,
    response: ServerResponse,
    url: URL,
    caller: Caller,
    record: RecordedRequest,
  ): void {
    const handled =
      server === 'hub'
        ? this.routeHub(request, response, url, caller)
        : this.routeCdn(request, response, url, record.authorized);
    handled.catch((error: unknown) => {
      if (response.headersSent) {
        response.destroy();
        return;
      }
      refuse(
        response,
        error instanceof HubError ? error : new HubError(500, `Fake Hub failure: ${String(error)}`),
      );
    });
  }

  private caller(request: IncomingMessage): Caller {
    const token = request.headers.authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
    if (token === undefined)
      return { presented: request.headers.authorization !== undefined, valid: false, canWrite: false };
    const readOnly = this.options.readOnlyTokens?.includes(token) ?? false;
    const writer = this.options.tokens ? this.options.tokens.includes(token) : !readOnly;
    return { presented: true, valid: writer || readOnly, canWrite: writer };
  }

  private async routeHub(
    request: IncomingMessage,
    response: ServerResponse,
    url: URL,
    caller: Caller,
  ): Promise<void> {
    const segments = url.pathname.split('/').slice(1).map(decodeURIComponent);
    const method = request.method ?? 'GET';
    if (segments[0] === 'api') {
      if (segments[1] === 'repos' && segments[2] === 'create' && method === 'POST') {
        return this.createRepo(request, response, caller);
      }
      const type = REPO_TYPE_BY_SEGMENT[segments[1]];
      if (!type || segments.length < 4) throw new HubError(404, 'Not Found');
      const name = `${segments[2]}/${segments[3]}`;
      const [action, revision, ...rest] = segments.slice(4);
      const route = `${method} ${action ?? ''}`;
      switch (route) {
        case 'GET ':
          return this.serveRepoInfo(response, this.readable(caller, type, name), DEFAULT_BRANCH);
        case 'GET revision':
          return this.serveRepoInfo(response, this.readable(caller, type, name), revision ?? DEFAULT_BRANCH);
        case 'GET refs':
          return this.serveRefs(response, this.readable(caller, type, name));
        case 'GET commits':
          return this.serveCommits(
            response,
            url,
            this.readable(caller, type, name),
            revision ?? DEFAULT_BRANCH,
          );
        case 'GET tree':
          return this.serveTree(
            response,
            url,
            this.readable(caller, type, name),
            revision ?? DEFAULT_BRANCH,
            rest.join('/'),
          );
        case 'POST paths-info':
          return this.servePathsInfo(
            request,
            response,
            this.readable(caller, type, name),
            revision ?? DEFAULT_BRANCH,
          );
        case 'POST preupload':
          return this.preupload(
            request,
            response,
            this.writable(caller, type, name),
            revision ?? DEFAULT_BRANCH,
          );
        case 'POST commit':
          return this.commit(
            request,
            response,
            url,
            this.writable(caller, type, name),
            revision ?? DEFAULT_BRANCH,
          );
        case 'POST branch':
          return this.createBranch(
            request,
            response,
            this.writable(caller, type, name),
            [revision, ...rest].join('/'),
          );
        case 'DELETE branch':
          this.state.deleteBranch(this.writable(caller, type, name), [revision, ...rest].join('/'));
          return sendJson(response, 200, {});
        default:
          throw new HubError(404, 'Not Found');
      }
    }
    const type: RepoType = segments[0] === 'datasets' ? 'dataset' : 'model';
    const [owner, repoName, action, revision, ...path] = type === 'dataset' ? segments.slice(1) : segments;
    if (
      repoName?.endsWith('.git') &&
      [action, revision, ...path].join('/') === 'info/lfs/objects/batch' &&
      method === 'POST'
    ) {
      return this.lfsBatch(
        request,
        response,
        this.writable(caller, type, `${owner}/${repoName.slice(0, -4)}`),
      );
    }
    if (
      (action === 'resolve' || action === 'raw') &&
      revision !== undefined &&
      (method === 'GET' || method === 'HEAD')
    ) {
      const repo = this.readable(caller, type, `${owner}/${repoName}`);
      return this.serveFile(request, response, repo, revision, path.join('/'), action === 'raw');
    }
    throw new HubError(404, 'Not Found');
  }

  /** The repo when the caller may read it; like the Hub, a private repo is "not found" to others. */
  private readable(caller: Caller, type: RepoType, name: string): RepoRecord {
    if (caller.presented && !caller.valid)
      throw new HubError(401, 'Invalid credentials in Authorization header');
    const repo = this.state.find(type, name);
    if (repo && (!repo.private || caller.valid)) return repo;
    // Anonymous callers get 401 whether the repo is private or missing, so neither is revealed.
    if (!caller.valid) throw new HubError(401, 'Repository not found', 'RepoNotFound');
    throw new HubError(404, 'Repository not found', 'RepoNotFound');
  }

  private writable(caller: Caller, type: RepoType, name: string): RepoRecord {
    this.requireWriter(caller, `${type}s/${name}`);
    return this.state.require(type, name);
  }

  private requireWriter(caller: Caller, what: string): void {
    if (!caller.presented) throw new HubError(401, 'You must be authenticated with a token to write');
    if (!caller.valid) throw new HubError(401, 'Invalid credentials in Authorization header');
    if (!caller.canWrite)
      throw new HubError(403, `You don't have the rights to write to ${what}: the token is read-only`);
  }

  private async createRepo(
    request: IncomingMessage,
    response: ServerResponse,
    caller: Caller,
  ): Promise<void> {
    const body = (await readJson(request)) as {
      name?: unknown;
      organization?: unknown;
      type?: unknown;
      visibility?: unknown;
      private?: unknown;
    };
    if (typeof body.name !== 'string' || typeof body.organization !== 'string') {
      throw new HubError(400, 'name and organization are required');
    }
    const name = `${body.organization}/${body.name}`;
    this.requireWriter(caller, name);
    const type = body.type ?? 'model';
    if (type !== 'model' && type !== 'dataset')
      throw new HubError(400, `The fake Hub has no ${String(type)} repos`);
    if (!/^[\w.-]+\/[\w.-]+$/.test(name)) throw new HubError(400, `Invalid repo name: ${name}`);
    const isPrivate = body.visibility === 'private' || body.private === true;
    const repo = this.state.createRepo(type, name, isPrivate);
    sendJson(response, 200, { url: this.repoUrl(repo), name, id: repoObjectId(repo) });
  }

  private serveRepoInfo(response: ServerResponse, repo: RepoRecord, revision: string): void {
    const commit = this.state.resolve(repo, revision);
    const [author] = repo.name.split('/');
    sendJson(response, 200, {
      _id: repoObjectId(repo),
      id: repo.name,
      ...(repo.type === 'model' && { modelId: repo.name }),
      author,
      sha: commit.id,
      private: repo.private,
      gated: false,
      disabled: false,
      downloads: 0,
      likes: 0,
      tags: [],
      createdAt: repo.createdAt.toISOString(),
      lastModified: commit.date.toISOString(),
      siblings: [...commit.files.keys()].sort().map((rfilename) => ({ rfilename })),
    });
  }

  private serveRefs(response: ServerResponse, repo: RepoRecord): void {
    sendJson(response, 200, {
      branches: [...repo.branches].map(([name, targetCommit]) => ({
        name,
        ref: `refs/heads/${name}`,
        targetCommit,
      })),
      tags: [],
      converts: [],
    });
  }

  private serveCommits(response: ServerResponse, url: URL, repo: RepoRecord, revision: string): void {
    const commits = this.state.history(repo, revision).map((commit) => ({
      id: commit.id,
      title: commit.title,
      message: commit.description,
      authors: [{ user: commit.author, avatar: '' }],
      date: commit.date.toISOString(),
    }));
    const limit = Math.min(Number(url.searchParams.get('limit')) || this.pageSize, this.pageSize);
    this.sendPage(response, url, commits, 'p', limit);
  }

  private serveTree(
    response: ServerResponse,
    url: URL,
    repo: RepoRecord,
    revision: string,
    folder: string,
  ): void {
    const commit = this.state.resolve(repo, revision);
    const recursive =
      url.searchParams.get('recursive') === 'true' || url.searchParams.get('recursive') === '1';
    const all = treeEntries(commit);
    if (folder !== '' && !all.some((entry) => entry.type === 'directory' && entry.path === folder)) {
      throw new HubError(404, `Entry not found: ${folder}`, 'EntryNotFound');
    }
    const prefix = folder === '' ? '' : `${folder}/`;
    const entries = all.filter(
      (entry) =>
        entry.path.startsWith(prefix) && (recursive || !entry.path.slice(prefix.length).includes('/')),
    );
    this.sendPage(response, url, entries, 'cursor', this.pageSize);
  }

  private async servePathsInfo(
    request: IncomingMessage,
    response: ServerResponse,
    repo: RepoRecord,
    revision: string,
  ): Promise<void> {
    const commit = this.state.resolve(repo, revision);
    const body = (await readJson(request)) as { paths?: unknown };
    const paths = Array.isArray(body.paths) ? body.paths.map(String) : [];
    const byPath = new Map(treeEntries(commit).map((entry) => [entry.path, entry]));
    sendJson(
      response,
      200,
      paths.flatMap((path) => byPath.get(path) ?? []),
    );
  }

  /** One page of a listing, with a Link header to the next (as absolute URL, as the Hub sends it). */
  private sendPage(
    response: ServerResponse,
    url: URL,
    items: readonly unknown[],
    cursorParam: string,
    size: number,
  ): void {
    const start = Number(url.searchParams.get(cursorParam) ?? 0) || 0;
    if (start + size < items.length) {
      const next = new URL(`${url.pathname}${url.search}`, this.endpoint);
      next.searchParams.set(cursorParam, String(start + size));
      response.setHeader('link', `<${next.href}>; rel="next"`);
    }
    sendJson(response, 200, items.slice(start, start + size));
  }

  private get pageSize(): number {
    return this.options.pageSize ?? DEFAULT_PAGE_SIZE;
  }

  private goesToLfs(path: string, size: number): boolean {
    return path.endsWith('.onnx') || size >= (this.options.lfsThresholdBytes ?? DEFAULT_LFS_THRESHOLD);
  }

  private async preupload(
    request: IncomingMessage,
    response: ServerResponse,
    repo: RepoRecord,
    branch: string,
  ): Promise<void> {
    const head = this.state.head(repo, branch);
    if (!head) throw new HubError(404, `Invalid rev id: ${branch}`, 'RevisionNotFound');
    const body = (await readJson(request)) as { files?: Array<{ path?: unknown; size?: unknown }> };
    if (!Array.isArray(body.files)) throw new HubError(400, 'files is required');
    sendJson(response, 200, {
      files: body.files.map((file) => {
        const path = String(file.path);
        checkRepoPath(path);
        return {
          path,
          uploadMode: this.goesToLfs(path, Number(file.size)) ? 'lfs' : 'regular',
          shouldIgnore: false,
          oid: head.files.get(path)?.gitOid,
        };
      }),
      commitOid: head.id,
    });
  }

  /** The LFS batch API, basic transfer only: each missing object gets a signed upload URL on the CDN. */
  private async lfsBatch(
    request: IncomingMessage,
    response: ServerResponse,
    repo: RepoRecord,
  ): Promise<void> {
    const body = (await readJson(request)) as {
      operation?: unknown;
      transfers?: unknown;
      objects?: Array<{ oid?: unknown; size?: unknown }>;
    };
    if (body.operation !== 'upload') throw new HubError(400, 'The fake Hub only accepts LFS uploads');
    if (Array.isArray(body.transfers) && !body.transfers.includes('basic')) {
      throw new HubError(400, 'The fake Hub only offers the basic transfer');
    }
    if (!Array.isArray(body.objects)) throw new HubError(400, 'objects is required');
    const objects = body.objects.map(({ oid, size }) => {
      if (typeof oid !== 'string' || !/^[0-9a-f]{64}$/.test(oid) || typeof size !== 'number' || size < 0) {
        return {
          oid,
          size,
          error: { code: 422, message: 'Invalid object: oid must be a sha256, size a byte count' },
        };
      }
      if (repo.lfsObjects.has(oid)) return { oid, size }; // already stored: nothing to upload
      const path = `/upload/${repoKey(repo.type, repo.name)}/${oid}`;
      return {
        oid,
        size,
        authenticated: true,
        actions: {
          upload: { href: this.signedCdnUrl('PUT', path, { size: String(size) }), expires_in: 900 },
        },
      };
    });
    response.writeHead(200, { 'content-type': 'application/vnd.git-lfs+json' });
    response.end(JSON.stringify({ transfer: 'basic', objects, hash_algo: 'sha256' }));
  }

  private async commit(
    request: IncomingMessage,
    response: ServerResponse,
    url: URL,
    repo: RepoRecord,
    branch: string,
  ): Promise<void> {
    if (url.searchParams.has('create_pr'))
      throw new HubError(400, 'The fake Hub does not open pull requests');
    const lines = (await readBody(request))
      .toString('utf8')
      .split('\n')
      .filter((line) => line.trim() !== '');
    let header: { summary?: unknown; description?: unknown; parentCommit?: unknown } | undefined;
    const operations: FileOperation[] = [];
    for (const line of lines) {
      let entry: { key?: unknown; value?: Record<string, unknown> };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        throw new HubError(400, 'The commit body must be NDJSON');
      }
      const value = entry.value ?? {};
      const path = String(value.path);
      switch (entry.key) {
        case 'header':
          header = value;
          break;
        case 'file': {
          const content = Buffer.from(
            String(value.content ?? ''),
            value.encoding === 'base64' ? 'base64' : 'utf8',
          );
          if (this.goesToLfs(path, content.length)) {
            throw new HubError(
              400,
              `${path} must be uploaded through LFS (ask /preupload for its upload mode)`,
            );
          }
          operations.push({ kind: 'put', path, file: storedFile(content, false) });
          break;
        }
        case 'lfsFile': {
          const bytes = typeof value.oid === 'string' ? repo.lfsObjects.get(value.oid) : undefined;
          if (!bytes || (value.size !== undefined && bytes.length !== value.size)) {
            throw new HubError(422, `LFS object ${String(value.oid)} for ${path} was never uploaded`);
          }
          operations.push({ kind: 'put', path, file: storedFile(bytes, true) });
          break;
        }
        case 'deletedFile':
          operations.push({ kind: 'delete', path });
          break;
        case 'deletedFolder':
          operations.push({ kind: 'deleteFolder', path });
          break;
        default:
          throw new HubError(400, `Unknown commit entry: ${String(entry.key)}`);
      }
    }
    if (!header || typeof header.summary !== 'string' || header.summary.trim() === '') {
      throw new HubError(400, 'The commit needs a header with a summary');
    }
    const commit = this.state.commit(repo, branch, {
      title: header.summary,
      description: typeof header.description === 'string' ? header.description : '',
      parentCommit: typeof header.parentCommit === 'string' ? header.parentCommit : undefined,
      operations,
    });
    sendJson(response, 200, {
      success: true,
      commitOid: commit.id,
      commitUrl: `${this.repoUrl(repo)}/commit/${commit.id}`,
      hookOutput: '',
    });
  }

  private async createBranch(
    request: IncomingMessage,
    response: ServerResponse,
    repo: RepoRecord,
    branch: string,
  ): Promise<void> {
    const body = (await readJson(request)) as {
      startingPoint?: unknown;
      emptyBranch?: unknown;
      overwrite?: unknown;
    };
    if (body.emptyBranch) throw new HubError(400, 'The fake Hub does not create empty branches');
    const startingPoint = typeof body.startingPoint === 'string' ? body.startingPoint : undefined;
    this.state.createBranch(repo, branch, startingPoint, body.overwrite === true);
    sendJson(response, 200, {});
  }

  private serveFile(
    request: IncomingMessage,
    response: ServerResponse,
    repo: RepoRecord,
    revision: string,
    path: string,
    raw: boolean,
  ): void {
    const commit = this.state.resolve(repo, revision);
    const file = commit.files.get(path);
    if (!file) throw new HubError(404, 'Entry not found', 'EntryNotFound');
    response.setHeader('x-repo-commit', commit.id);
    if (file.lfs && !raw) {
      // The Hub answers an LFS file with its metadata and a redirect to a signed CDN URL.
      response.writeHead(302, {
        location: this.signedCdnUrl('GET', `/lfs/${repoKey(repo.type, repo.name)}/${file.sha256}`),
        'x-linked-etag': `"${file.sha256}"`,
        'x-linked-size': String(file.content.length),
        etag: `"${file.gitOid}"`,
      });
      response.end();
      return;
    }
    const content = file.lfs ? lfsPointer(file.sha256, file.content.length) : file.content;
    sendContent(request, response, content, `"${file.gitOid}"`);
  }

  private async routeCdn(
    request: IncomingMessage,
    response: ServerResponse,
    url: URL,
    signed: boolean,
  ): Promise<void> {
    const method = request.method ?? 'GET';
    const match = url.pathname.match(/^\/(upload|lfs)\/(models|datasets)\/([^/]+\/[^/]+)\/([0-9a-f]{64})$/);
    if (!match) throw new HubError(404, 'NoSuchKey');
    if (!signed) throw new HubError(403, 'SignatureDoesNotMatch');
    const [, action, typeSegment, name, oid] = match;
    const repo = this.state.require(REPO_TYPE_BY_SEGMENT[typeSegment], decodeURIComponent(name));
    if (action === 'upload' && method === 'PUT') {
      const body = await readBody(request);
      const expectedSize = Number(url.searchParams.get('size'));
      if (body.length !== expectedSize || storedFile(body, true).sha256 !== oid) {
        throw new HubError(400, `BadDigest: the body is not the object ${oid} of ${expectedSize} bytes`);
      }
      repo.lfsObjects.set(oid, body);
      response.writeHead(200, { etag: `"${oid}"` });
      response.end();
      return;
    }
    const content = repo.lfsObjects.get(oid);
    if (action !== 'lfs' || (method !== 'GET' && method !== 'HEAD') || !content)
      throw new HubError(404, 'NoSuchKey');
    sendContent(request, response, content, `"${oid}"`);
  }

  private signedCdnUrl(method: string, path: string, query: Record<string, string> = {}): string {
    const url = new URL(path, this.cdnEndpoint);
    for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
    url.searchParams.set('X-Amz-Signature', this.signature(method, url));
    return url.href;
  }

  private signatureValid(method: string, url: URL): boolean {
    const given = url.searchParams.get('X-Amz-Signature');
    return given !== null && given === this.signature(method === 'HEAD' ? 'GET' : method, url);
  }

  private signature(method: string, url: URL): string {
    const size = url.searchParams.get('size') ?? '';
    return createHmac('sha256', this.signingKey).update(`${method} ${url.pathname} ${size}`).digest('hex');
  }

  private repoUrl(repo: RepoRecord): string {
    return `${this.endpoint}/${repo.type === 'dataset' ? 'datasets/' : ''}${repo.name}`;
  }
}

/** Every file and folder of a commit, sorted by path, as the tree API lists them. */
function treeEntries(commit: CommitRecord): TreeEntry[] {
  const folders = new Map<string, string[]>();
  const files: TreeEntry[] = [];
  for (const [path, file] of commit.files) {
    files.push(fileEntry(path, file));
    const segments = path.split('/');
    for (let depth = 1; depth < segments.length; depth++) {
      const folder = segments.slice(0, depth).join('/');
      folders.set(folder, [...(folders.get(folder) ?? []), `${file.gitOid} ${path}`]);
    }
  }
  const directories: TreeEntry[] = [...folders].map(([path, children]) => ({
    type: 'directory',
    path,
    size: 0,
    // Not git's tree id, but stable for the same contents, which is all clients compare.
    oid: storedFile(Buffer.from(children.sort().join('\n')), false).gitOid,
  }));
  return [...directories, ...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function fileEntry(path: string, file: StoredFile): TreeEntry {
  return {
    type: 'file',
    path,
    size: file.content.length,
    oid: file.gitOid,
    ...(file.lfs && {
      lfs: {
        oid: file.sha256,
        size: file.content.length,
        pointerSize: lfsPointer(file.sha256, file.content.length).length,
      },
    }),
  };
}

function repoObjectId(repo: RepoRecord): string {
  return storedFile(Buffer.from(repoKey(repo.type, repo.name)), false).gitOid.slice(0, 24);
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const text = (await readBody(request)).toString('utf8');
  try {
    const value: unknown = text === '' ? {} : JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value))
      return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new HubError(400, 'The body must be a JSON object');
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  response.end(JSON.stringify(body));
}

/** The Hub's error shape: JSON `{ error }`, plus `X-Error-Code` and `X-Error-Message` headers. */
function refuse(response: ServerResponse, error: HubError): void {
  response.writeHead(error.status, {
    'content-type': 'application/json; charset=utf-8',
    'x-error-message': error.message,
    ...(error.errorCode && { 'x-error-code': error.errorCode }),
  });
  response.end(JSON.stringify({ error: error.message }));
}

/** A whole file or one `Range` of it (`bytes=a-b`, `bytes=a-`, `bytes=-n`), as the Hub and S3 serve them. */
function sendContent(
  request: IncomingMessage,
  response: ServerResponse,
  content: Buffer,
  etag: string,
): void {
  const size = content.length;
  const headers: Record<string, string> = {
    'accept-ranges': 'bytes',
    etag,
    'content-type': 'application/octet-stream',
  };
  const range = request.headers.range?.match(/^bytes=(\d*)-(\d*)$/);
  let body = content;
  let status = 200;
  if (range && (range[1] !== '' || range[2] !== '')) {
    const start = range[1] === '' ? Math.max(0, size - Number(range[2])) : Number(range[1]);
    const end = range[1] === '' || range[2] === '' ? size - 1 : Math.min(Number(range[2]), size - 1);
    if (start >= size || start > end) {
      response.writeHead(416, { ...headers, 'content-range': `bytes */${size}` });
      response.end();
      return;
    }
    body = content.subarray(start, end + 1);
    status = 206;
    headers['content-range'] = `bytes ${start}-${end}/${size}`;
  }
  response.writeHead(status, { ...headers, 'content-length': String(body.length) });
  response.end(request.method === 'HEAD' ? undefined : body);
}
