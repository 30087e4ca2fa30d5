import { IncomingHttpHeaders, Server, ServerResponse, createServer } from 'node:http';
import { AddressInfo } from 'node:net';

/** One request as the fake API received it. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw body, as sent on the wire. */
  body: string;
  json: unknown;
}

/**
 * What the fake answers the next request with before its normal handling: an HTTP status (with a
 * GitHub-style error body), `drop` (the socket is destroyed without an answer) or `hang` (no answer ever).
 */
export type ScriptedStep = number | 'drop' | 'hang';

/**
 * A stand-in for the GitHub REST API on 127.0.0.1, serving `POST {mount}/repos/{owner}/{repo}/dispatches`
 * the way GitHub does: 401 for a wrong token, 404 for anything else, 422 for a body over GitHub's limits,
 * 204 on success. It records every request. Tests script failures with `script(...)`.
 */
export class FakeGitHubApi {
  readonly requests: RecordedRequest[] = [];
  /** Path prefix the API is mounted under: '' like api.github.com, '/api/v3' like GitHub Enterprise Server. */
  mount = '';
  /** The one token it accepts. */
  token = '';
  /** Delay before answering successful dispatches, so concurrent callers overlap. */
  delayMs = 0;
  private steps: ScriptedStep[] = [];

  private constructor(private readonly server: Server) {}

  static async start(): Promise<FakeGitHubApi> {
    const server = createServer();
    const api = new FakeGitHubApi(server);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () =>
        api.handle(req.method ?? '', req.url ?? '', req.headers, Buffer.concat(chunks), res),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return api;
  }

  /** http://127.0.0.1:PORT (without the mount). */
  get origin(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  script(...steps: ScriptedStep[]): void {
    this.steps.push(...steps);
  }

  reset(): void {
    this.requests.length = 0;
    this.steps = [];
    this.mount = '';
    this.delayMs = 0;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(
    method: string,
    path: string,
    headers: IncomingHttpHeaders,
    raw: Buffer,
    res: ServerResponse,
  ): void {
    const body = raw.toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      json = undefined;
    }
    this.requests.push({ method, path, headers, body, json });

    const step = this.steps.shift();
    if (step === 'drop') {
      res.socket?.destroy();
      return;
    }
    if (step === 'hang') return;
    if (typeof step === 'number') {
      answer(res, step, { message: `scripted ${step}` });
      return;
    }

    const route = new RegExp(`^${this.mount}/repos/([^/]+)/([^/]+)/dispatches$`);
    if (method !== 'POST' || !route.test(path)) {
      answer(res, 404, { message: 'Not Found' });
      return;
    }
    const authorization = headers.authorization ?? '';
    if (!/^(token|bearer) /i.test(authorization) || authorization.replace(/^\S+ /, '') !== this.token) {
      answer(res, 401, { message: 'Bad credentials' });
      return;
    }
    const problem = bodyProblem(json, raw.length);
    if (problem) {
      answer(res, 422, { message: `Invalid request.\n\n${problem}` });
      return;
    }
    setTimeout(() => {
      res.writeHead(204);
      res.end();
    }, this.delayMs);
  }
}

/** GitHub's documented limits for a repository dispatch. */
function bodyProblem(json: unknown, bytes: number): string | undefined {
  if (typeof json !== 'object' || json === null) return 'body is not a JSON object';
  const { event_type: eventType, client_payload: payload } = json as Record<string, unknown>;
  if (typeof eventType !== 'string' || eventType.length < 1 || eventType.length > 100) {
    return 'event_type must be 1 to 100 characters';
  }
  if (payload !== undefined) {
    if (typeof payload !== 'object' || payload === null) return 'client_payload must be an object';
    if (Object.keys(payload).length > 10) return 'client_payload has more than 10 top-level properties';
    if (Buffer.byteLength(JSON.stringify(payload), 'utf8') > 64 * 1000) return 'client_payload over 64 KB';
  }
  if (bytes > 65 * 1024) return 'body too large';
  return undefined;
}

function answer(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify({ ...body, documentation_url: 'https://docs.github.com/rest' });
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(text);
}
