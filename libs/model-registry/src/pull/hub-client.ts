import { setTimeout as sleep } from 'node:timers/promises';
import { attemptsText, ModelPullError, throwIfCancelled, TransientError, unreachableMessage } from './errors';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';
const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const FULL_COMMIT = /^[0-9a-f]{40}$/;
const USER_AGENT = `reputation-monitor-model-pull (node ${process.version})`;
// Failures before any answer that another attempt will not fix: no name, no route, nothing listening.
const UNREACHABLE_CODES = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

export interface HubSettings {
  /** Base URL of the Hub or a mirror (HF_ENDPOINT). */
  endpoint: string;
  /** Sent as a bearer token to the endpoint's origin only, never to the CDN it redirects to. */
  token?: string;
  /** Longest wait for an answer, and longest pause mid-body, before an attempt counts as failed. */
  timeoutMs: number;
  maxAttempts: number;
  /** Pause before the second attempt; it doubles for each one after. */
  retryDelayMs: number;
  log: (line: string) => void;
  /** Calls the pull off: requests in flight are aborted and nothing is retried (PullCancelledError). */
  signal?: AbortSignal;
}

/** What a request is for, so a refusal can name the repo, revision or file. */
export interface RequestTarget {
  repo: string;
  revision: string;
  path?: string;
}

/** An entry of the Hub's tree API; `lfs.oid` is the sha256 of an LFS file's content. */
export interface TreeEntry {
  type: string;
  path: string;
  size: number;
  /** Git blob id (sha1 of "blob <size>\0<content>", or of the LFS pointer for LFS files). */
  oid: string;
  lfs?: { oid: string; size: number };
}

export interface OpenedResponse {
  response: Response;
  signal: AbortSignal;
  /** Pushes the stall deadline back; call on every chunk received. */
  touch(): void;
  /** Stops the stall timer. */
  done(): void;
}

/** Aborts a request when nothing arrives for timeoutMs: first the answer, then each chunk of the body. */
class StallTimer {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly controller: AbortController,
    private readonly timeoutMs: number,
  ) {
    this.touch();
  }

  touch(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.controller.abort(new Error(`nothing received for ${this.timeoutMs / 1000} s`));
    }, this.timeoutMs);
    this.timer.unref();
  }

  done(): void {
    clearTimeout(this.timer);
  }
}

/** Origin and path only: signed CDN URLs carry credentials in their query. */
export function displayUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/** The innermost reason of a failed fetch or body read ("connect ECONNREFUSED …", "other side closed"). */
export function failureText(error: unknown, signal?: AbortSignal): string {
  return messageOf(signal?.aborted ? signal.reason : rootCause(error));
}

// Duck-typed: fetch's errors come from Node's realm, where a test sandbox's `instanceof Error` fails.
interface ErrorLike {
  message?: unknown;
  cause?: unknown;
  code?: unknown;
  errors?: unknown;
}

function asErrorLike(value: unknown): ErrorLike | undefined {
  return typeof value === 'object' && value !== null ? (value as ErrorLike) : undefined;
}

function rootCause(error: unknown): unknown {
  let current = error;
  for (let cause = asErrorLike(current)?.cause; cause !== undefined; cause = asErrorLike(current)?.cause) {
    current = cause;
  }
  return current;
}

function messageOf(value: unknown): string {
  const error = asErrorLike(value);
  if (typeof error?.message === 'string' && error.message !== '') return error.message;
  // Node tries every address of a host; its AggregateError holds one error per address.
  if (Array.isArray(error?.errors)) return error.errors.map(messageOf).join('; ');
  return String(value);
}

function errorCode(error: unknown): string | undefined {
  const root = asErrorLike(rootCause(error));
  if (typeof root?.code === 'string') return root.code;
  if (Array.isArray(root?.errors)) return errorCode(root.errors[0]);
  return undefined;
}

function nextPageUrl(linkHeader: string | null, current: URL): URL | undefined {
  const next = linkHeader?.match(/<([^>]+)>\s*;\s*rel="next"/);
  return next ? new URL(next[1], current) : undefined;
}

function isTreeEntry(value: unknown): value is TreeEntry {
  const entry = value as Partial<TreeEntry> | null;
  return (
    typeof entry?.type === 'string' &&
    typeof entry.path === 'string' &&
    typeof entry.size === 'number' &&
    typeof entry.oid === 'string' &&
    (entry.lfs === undefined || (typeof entry.lfs.oid === 'string' && typeof entry.lfs.size === 'number'))
  );
}

/** The Hub's HTTP API: revision and tree listings, file downloads, with redirects, retries and clear errors. */
export class HubClient {
  private readonly base: string;
  private readonly origin: string;

  constructor(private readonly settings: HubSettings) {
    let endpoint: URL;
    try {
      endpoint = new URL(settings.endpoint);
    } catch {
      throw new ModelPullError(`HF_ENDPOINT is not a URL: "${settings.endpoint}"`);
    }
    if (endpoint.protocol !== 'https:' && endpoint.protocol !== 'http:') {
      throw new ModelPullError(`HF_ENDPOINT must be an http(s) URL, got "${settings.endpoint}"`);
    }
    this.base = endpoint.href.replace(/\/+$/, '');
    this.origin = endpoint.origin;
  }

  get endpoint(): string {
    return this.base;
  }

  /** The commit sha a revision (branch, tag or sha) points at. */
  async resolveCommit(repo: string, revision: string): Promise<string> {
    const url = new URL(`${this.base}/api/models/${repo}/revision/${encodeURIComponent(revision)}`);
    const { body } = await this.getJson(url, { repo, revision });
    const sha = (body as { sha?: unknown } | null)?.sha;
    if (typeof sha !== 'string' || !FULL_COMMIT.test(sha)) {
      throw new ModelPullError(
        `GET ${displayUrl(url)} answered without a commit sha: is ${this.base} a Hub?`,
      );
    }
    return sha;
  }

  /** Every file and folder of the repo at a commit, following the API's pagination. */
  async listTree(repo: string, commit: string): Promise<TreeEntry[]> {
    const entries: TreeEntry[] = [];
    let page: URL | undefined = new URL(`${this.base}/api/models/${repo}/tree/${commit}?recursive=true`);
    while (page) {
      const { body, headers } = await this.getJson(page, { repo, revision: commit });
      if (!Array.isArray(body) || !body.every(isTreeEntry)) {
        throw new ModelPullError(
          `GET ${displayUrl(page)} did not answer a file list: is ${this.base} a Hub?`,
        );
      }
      entries.push(...body);
      page = nextPageUrl(headers.get('link'), page);
    }
    return entries;
  }

  fileUrl(repo: string, commit: string, path: string): URL {
    const encodedPath = path.split('/').map(encodeURIComponent).join('/');
    return new URL(`${this.base}/${repo}/resolve/${commit}/${encodedPath}`);
  }

  /** Throws PullCancelledError once the caller's signal has called the pull off. */
  throwIfCancelled(): void {
    throwIfCancelled(this.settings.signal);
  }

  /** Runs attempt until it succeeds, retrying TransientErrors with exponential backoff. */
  async retry<T>(attempt: () => Promise<T>): Promise<T> {
    for (let attemptNumber = 1; ; attemptNumber++) {
      this.throwIfCancelled();
      try {
        return await attempt();
      } catch (error) {
        this.throwIfCancelled();
        if (!(error instanceof TransientError)) throw error;
        if (attemptNumber >= this.settings.maxAttempts) throw error.exhausted(attemptNumber);
        const delayMs = this.settings.retryDelayMs * 2 ** (attemptNumber - 1);
        this.settings.log(
          `${error.message}; retrying in ${delayMs / 1000} s ` +
            `(attempt ${attemptNumber + 1} of ${this.settings.maxAttempts})`,
        );
        await sleep(delayMs, undefined, { signal: this.settings.signal }).catch(() =>
          this.throwIfCancelled(),
        );
      }
    }
  }

  /**
   * GETs url, following redirects, and returns a 2xx answer whose body the caller reads. Throws
   * ModelPullError for answers another attempt will not change, TransientError for the others.
   */
  async open(url: URL, target: RequestTarget, headers: Record<string, string> = {}): Promise<OpenedResponse> {
    this.throwIfCancelled();
    const controller = new AbortController();
    const stall = new StallTimer(controller, this.settings.timeoutMs);
    const signal = this.settings.signal
      ? AbortSignal.any([controller.signal, this.settings.signal])
      : controller.signal;
    try {
      let current = url;
      for (let redirects = 0; ; redirects++) {
        const response = await this.fetchOnce(current, headers, signal);
        if (REDIRECT_STATUSES.has(response.status)) {
          await response.body?.cancel();
          const location = response.headers.get('location');
          if (!location) {
            throw new ModelPullError(
              `GET ${displayUrl(current)} answered ${response.status} without a Location`,
            );
          }
          if (redirects === MAX_REDIRECTS) {
            throw new ModelPullError(`GET ${displayUrl(url)} redirected more than ${MAX_REDIRECTS} times`);
          }
          // Relative for a renamed repo, absolute to the CDN for LFS files.
          current = new URL(location, current);
          continue;
        }
        if (response.ok) {
          return {
            response,
            signal,
            touch: () => stall.touch(),
            done: () => stall.done(),
          };
        }
        await response.body?.cancel();
        throw this.failure(response, current, target);
      }
    } catch (error) {
      stall.done();
      throw error;
    }
  }

  private async getJson(url: URL, target: RequestTarget): Promise<{ body: unknown; headers: Headers }> {
    return this.retry(async () => {
      const opened = await this.open(url, target, { accept: 'application/json' });
      let text: string;
      try {
        text = await opened.response.text();
      } catch (error) {
        throw this.networkFailure(url, error, opened.signal);
      } finally {
        opened.done();
      }
      try {
        return { body: JSON.parse(text) as unknown, headers: opened.response.headers };
      } catch {
        throw new ModelPullError(`GET ${displayUrl(url)} did not answer JSON: is ${this.base} a Hub?`);
      }
    });
  }

  private async fetchOnce(url: URL, headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
    const sent: Record<string, string> = { 'user-agent': USER_AGENT, ...headers };
    if (this.settings.token && url.origin === this.origin) {
      sent.authorization = `Bearer ${this.settings.token}`;
    }
    try {
      // Manual redirects, so the token stays with the Hub's origin whatever fetch does across origins.
      return await fetch(url, { headers: sent, redirect: 'manual', signal });
    } catch (error) {
      throw this.networkFailure(url, error, signal);
    }
  }

  private networkFailure(url: URL, error: unknown, signal: AbortSignal): Error {
    this.throwIfCancelled();
    const detail = `GET ${url.pathname}: ${failureText(error, signal)}`;
    const code = signal.aborted ? undefined : errorCode(error);
    if (code !== undefined && UNREACHABLE_CODES.has(code)) {
      return new ModelPullError(unreachableMessage(url.origin, detail));
    }
    return new TransientError(detail, (attempts) =>
      unreachableMessage(url.origin, `${detail}; ${attemptsText(attempts)}`),
    );
  }

  private failure(response: Response, url: URL, { repo, revision, path }: RequestTarget): Error {
    const { status } = response;
    const hubMessage = response.headers.get('x-error-message');
    const tried = `${status} on GET ${displayUrl(url)}${hubMessage ? `: ${hubMessage}` : ''}`;
    if (status >= 500 || status === 429) {
      return new TransientError(
        tried,
        (attempts) =>
          `${url.host} answered ${tried} (${attemptsText(attempts)}): it may be down, try again later`,
      );
    }
    if (url.origin !== this.origin) {
      // The CDN a file redirects to: its signed URL may have expired, and the next attempt gets a new one.
      return new TransientError(
        tried,
        (attempts) => `the download server refused ${path ?? 'a file'} (${tried}; ${attemptsText(attempts)})`,
      );
    }
    const token = this.settings.token !== undefined;
    if (status === 401 && token) {
      return new ModelPullError(
        `the Hub refused the token in HF_TOKEN (${tried}): check that it is valid and can read ${repo}`,
      );
    }
    if (status === 401) {
      return new ModelPullError(
        `the Hub needs a token for ${repo} (${tried}): it is private or gated, or does not exist; ` +
          'check the name, or set HF_TOKEN to a token that can read it',
      );
    }
    if (status === 403) {
      return new ModelPullError(
        `the Hub refused access to ${repo} (${tried}): ` +
          (token
            ? 'the token in HF_TOKEN cannot read it (for a gated repo, accept its terms on the Hub first)'
            : 'set HF_TOKEN to a token that can read it'),
      );
    }
    if (status === 404) {
      // The Hub names what is missing in X-Error-Code; without it, the request tells.
      const code = response.headers.get('x-error-code');
      if (code === 'RepoNotFound') {
        return new ModelPullError(`repository ${repo} not found at ${this.base} (${tried}): check its name`);
      }
      if (code === 'RevisionNotFound') {
        return new ModelPullError(
          `revision ${revision} not found in ${repo} (${tried}): check it, or use --revision main for the latest`,
        );
      }
      if (path !== undefined) {
        return new ModelPullError(`file ${path} not found in ${repo} at ${revision} (${tried})`);
      }
      return new ModelPullError(`repository ${repo} or its revision ${revision} not found (${tried})`);
    }
    return new ModelPullError(`unexpected answer ${tried}`);
  }
}
