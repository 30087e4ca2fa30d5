/**
 * A Hugging Face Hub on 127.0.0.1 for tests: the revision and tree APIs, `resolve` downloads with the
 * Hub's headers, and a second server on another port as the CDN that LFS files redirect to.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeHubOptions {
  repo: string;
  commit: string;
  /** Repo path → content. `.onnx` files are LFS files, served through the CDN. */
  files: Map<string, Buffer>;
  /** When set, every Hub request must carry `Authorization: Bearer <token>`. */
  token?: string;
}

export interface RecordedRequest {
  server: 'hub' | 'cdn';
  path: string;
  range?: string;
  authorization?: string;
}

interface ServedFile {
  path: string;
  content: Buffer;
  gitOid: string;
  sha256?: string;
}

const isLfs = (path: string) => path.endsWith('.onnx');
// Small pages, so clients must follow the tree API's Link header.
const TREE_PAGE_SIZE = 4;

/** The content with its middle byte flipped: same size, other hashes. */
export function corruptedCopy(content: Buffer): Buffer {
  const copy = Buffer.from(content);
  copy[copy.length >> 1] ^= 0xff;
  return copy;
}

export function gitBlobOid(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export class FakeHub {
  readonly requests: RecordedRequest[] = [];
  /** Paths whose next download stops halfway with a destroyed socket. */
  readonly cutNext = new Set<string>();
  /** Paths whose next download sends its first half, then holds the connection open and sends nothing more. */
  readonly stallNext = new Set<string>();
  /** Paths served with one byte changed (the listing keeps the true hashes). */
  readonly corrupted = new Set<string>();
  /** How many of the next Hub requests answer 503. */
  unavailableCount = 0;
  endpoint = '';
  private cdnOrigin = '';
  private readonly files: ServedFile[];
  private readonly hub = createServer((request, response) => this.serveHub(request, response));
  private readonly cdn = createServer((request, response) => this.serveCdn(request, response));

  private constructor(private readonly options: FakeHubOptions) {
    this.files = [...options.files].map(([path, content]) => ({
      path,
      content,
      gitOid: gitBlobOid(content),
      sha256: isLfs(path) ? createHash('sha256').update(content).digest('hex') : undefined,
    }));
  }

  static async start(options: FakeHubOptions): Promise<FakeHub> {
    const fake = new FakeHub(options);
    fake.endpoint = await listen(fake.hub);
    fake.cdnOrigin = await listen(fake.cdn);
    return fake;
  }

  async close(): Promise<void> {
    for (const server of [this.hub, this.cdn]) {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
    }
  }

  private record(server: 'hub' | 'cdn', request: IncomingMessage): URL {
    const url = new URL(request.url ?? '/', 'http://fake');
    this.requests.push({
      server,
      path: url.pathname,
      range: request.headers.range,
      authorization: request.headers.authorization,
    });
    return url;
  }

  private serveHub(request: IncomingMessage, response: ServerResponse): void {
    const url = this.record('hub', request);
    const { repo, commit, token } = this.options;
    if (this.unavailableCount > 0) {
      this.unavailableCount--;
      return refuse(response, 503, 'Service Unavailable');
    }
    if (token !== undefined && request.headers.authorization !== `Bearer ${token}`) {
      const message = request.headers.authorization
        ? 'Invalid credentials in Authorization header'
        : 'Repository not found';
      return refuse(response, 401, message, request.headers.authorization ? undefined : 'RepoNotFound');
    }
    const route = url.pathname.match(
      /^\/(?:api\/models\/)?([^/]+\/[^/]+)\/(revision|tree|resolve)\/([^/]+)\/?(.*)$/,
    );
    const isApi = url.pathname.startsWith('/api/');
    if (!route || (route[2] === 'resolve') === isApi) return refuse(response, 404, 'Not Found');
    const [, routeRepo, action, revision, path] = route;
    if (routeRepo !== repo) return refuse(response, 404, 'Repository not found', 'RepoNotFound');
    if (revision !== commit && revision !== 'main') {
      return refuse(response, 404, `Invalid rev id: ${revision}`, 'RevisionNotFound');
    }
    if (action === 'revision') {
      return sendJson(response, {
        id: repo,
        sha: commit,
        siblings: this.files.map((file) => ({ rfilename: file.path })),
      });
    }
    if (action === 'tree') return this.serveTree(url, response);
    this.serveResolve(request, response, decodeURIComponent(path));
  }

  private serveTree(url: URL, response: ServerResponse): void {
    const folders = new Set(
      this.files.flatMap((file) => (file.path.includes('/') ? [file.path.split('/')[0]] : [])),
    );
    const entries = [
      ...[...folders].map((path) => ({
        type: 'directory',
        oid: gitBlobOid(Buffer.from(path)),
        size: 0,
        path,
      })),
      ...this.files.map((file) => ({
        type: 'file',
        oid: file.sha256 ? gitBlobOid(Buffer.from(`oid sha256:${file.sha256}`)) : file.gitOid,
        size: file.content.length,
        path: file.path,
        ...(file.sha256 ? { lfs: { oid: file.sha256, size: file.content.length, pointerSize: 134 } } : {}),
      })),
    ].filter((entry) => url.searchParams.get('recursive') === 'true' || !entry.path.includes('/'));
    const start = Number(url.searchParams.get('cursor') ?? 0);
    if (start + TREE_PAGE_SIZE < entries.length) {
      const next = new URL(url.pathname, this.endpoint);
      next.search = `recursive=true&cursor=${start + TREE_PAGE_SIZE}`;
      response.setHeader('link', `<${next.href}>; rel="next"`);
    }
    sendJson(response, entries.slice(start, start + TREE_PAGE_SIZE));
  }

  private serveResolve(request: IncomingMessage, response: ServerResponse, path: string): void {
    const file = this.files.find((candidate) => candidate.path === path);
    if (!file) return refuse(response, 404, 'Entry not found', 'EntryNotFound');
    response.setHeader('x-repo-commit', this.options.commit);
    if (file.sha256) {
      // LFS: the Hub answers with the blob's metadata and a redirect to a signed CDN URL.
      response.writeHead(302, {
        location: `${this.cdnOrigin}/blobs/${file.sha256}?X-Amz-Signature=fake`,
        'x-linked-etag': `"${file.sha256}"`,
        'x-linked-size': String(file.content.length),
        etag: `"${file.gitOid}"`,
      });
      response.end();
      return;
    }
    response.setHeader('etag', `"${file.gitOid}"`);
    this.sendContent(request, response, file);
  }

  private serveCdn(request: IncomingMessage, response: ServerResponse): void {
    const url = this.record('cdn', request);
    const file = this.files.find((candidate) => `/blobs/${candidate.sha256}` === url.pathname);
    if (!file) return refuse(response, 404, 'NoSuchKey');
    response.setHeader('etag', `"${file.sha256}"`);
    this.sendContent(request, response, file);
  }

  /** Whole file or a `bytes=N-` range, as the Hub and its CDN do; applies cuts and corruption. */
  private sendContent(request: IncomingMessage, response: ServerResponse, file: ServedFile): void {
    const content = this.corrupted.has(file.path) ? corruptedCopy(file.content) : file.content;
    const start = Number(request.headers.range?.match(/^bytes=(\d+)-$/)?.[1] ?? 0);
    if (start >= content.length && start > 0) return refuse(response, 416, 'Range Not Satisfiable');
    const body = content.subarray(start);
    response.writeHead(start > 0 ? 206 : 200, {
      'content-type': 'application/octet-stream',
      'content-length': String(body.length),
      'accept-ranges': 'bytes',
      ...(start > 0 ? { 'content-range': `bytes ${start}-${content.length - 1}/${content.length}` } : {}),
    });
    if (this.stallNext.delete(file.path)) {
      response.write(body.subarray(0, body.length >> 1));
      return;
    }
    if (!this.cutNext.delete(file.path)) {
      response.end(body);
      return;
    }
    // Let the first half reach the client, then drop the connection as a failing network would.
    response.write(body.subarray(0, body.length >> 1), () => {
      setTimeout(() => response.socket?.destroy(), 50);
    });
  }
}

function sendJson(response: ServerResponse, body: unknown): void {
  response.writeHead(200, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

function refuse(response: ServerResponse, status: number, message: string, errorCode?: string): void {
  response.writeHead(status, {
    'content-type': 'application/json',
    'x-error-message': message,
    ...(errorCode ? { 'x-error-code': errorCode } : {}),
  });
  response.end(JSON.stringify({ error: message }));
}
