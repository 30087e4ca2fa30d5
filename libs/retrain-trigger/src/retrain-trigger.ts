import { randomUUID } from 'node:crypto';
import { Octokit } from '@octokit/rest';
import type { Redis } from 'ioredis';
import { DispatchTarget, classifyDispatchError } from './dispatch-failure';
import { RetrainClientPayload, RetrainRequest, shapeClientPayload } from './payload';

/** Nest's `Logger` fits. `debug` is optional and receives Octokit's own per-request lines. */
export interface RetrainLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug?(message: string): void;
}

export interface RetrainTriggerOptions {
  /** GitHub token. Unset or blank: dry run (the payload is logged, nothing is sent, no cooldown is claimed). */
  token?: string;
  owner: string;
  repo: string;
  /** `repository_dispatch` event type; the workflow listens with `on: repository_dispatch: types: [...]`. */
  eventType?: string;
  /** API root; GitHub Enterprise Server: `https://HOST/api/v3`. */
  baseUrl?: string;
  /** At most one dispatch per this many seconds, across every replica sharing the Redis. */
  cooldownSeconds?: number;
  /** Used for the cooldown claim only; the caller owns (and closes) the connection. */
  redis: Redis;
  /** Key prefix in Redis (the deployment's, e.g. `rm`). */
  keyPrefix: string;
  /** Tries per dispatch, counting the first. */
  maxAttempts?: number;
  /** Wait before the second try; doubles for each further try. */
  backoffMs?: number;
  /** Bound on one HTTP attempt; a timed-out attempt counts as a network error and is retried. */
  requestTimeoutMs?: number;
  logger: RetrainLogger;
}

export type RetrainOutcome = 'dispatched' | 'dry_run' | 'deduped' | 'failed';

export interface RetrainResult {
  outcome: RetrainOutcome;
  /** HTTP attempts made (0 for dry runs, deduped calls and failures before any request). */
  attempts: number;
  /** GitHub's last HTTP status (204 when dispatched); absent when no answer arrived. */
  status?: number;
  /** Why it failed, in one line (never contains the token). */
  error?: string;
  /** When the next dispatch can happen: set for `dispatched` and `deduped`. */
  cooldownUntil?: Date;
}

export const DEFAULT_EVENT_TYPE = 'retrain-model';
export const DEFAULT_GITHUB_API_URL = 'https://api.github.com';
export const DEFAULT_COOLDOWN_SECONDS = 86_400;
export const DEFAULT_DISPATCH_ATTEMPTS = 4;
export const DEFAULT_DISPATCH_BACKOFF_MS = 1_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/** Deletes the claim only if it still holds our value, so a late release never frees someone else's claim. */
const RELEASE_IF_OURS = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

const USER_AGENT = 'reputation-monitor-retrain-trigger';
/** The REST API version the request is written against. */
const GITHUB_API_VERSION = '2022-11-28';

type Claim = { claimed: true; value: string; until: Date } | { claimed: false; until?: Date };

/**
 * Asks GitHub to retrain the model by sending a `repository_dispatch` event, at most once per cooldown
 * across all replicas.
 *
 * - The cooldown is a Redis key claimed with `SET NX PX` before dispatching, so of several replicas that
 *   detect the same drift at once exactly one sends. A successful dispatch keeps the claim for the whole
 *   cooldown; a failed one releases it (compare-and-delete) so the next drift report can try again.
 * - 5xx, 429 and network errors (refused, reset, dropped, timed out) are retried with exponential backoff;
 *   other 4xx answers are not, and are logged once with what to check.
 * - Without a token it is a dry run: the payload is logged and nothing is sent or claimed, so configuring a
 *   token later dispatches at once.
 * - It never throws for a failed dispatch or an unreachable Redis: the result says what happened and the
 *   caller counts outcomes.
 */
export class RetrainTrigger {
  private readonly octokit: Octokit | undefined;
  private readonly token: string | undefined;
  private readonly target: DispatchTarget;
  private readonly redis: Redis;
  private readonly logger: RetrainLogger;
  private readonly cooldownMs: number;
  private readonly maxAttempts: number;
  private readonly backoffMs: number;
  private readonly requestTimeoutMs: number;
  /** The Redis key of the cooldown claim. */
  readonly cooldownKey: string;

  constructor(options: RetrainTriggerOptions) {
    const eventType = options.eventType ?? DEFAULT_EVENT_TYPE;
    const baseUrl = (options.baseUrl ?? DEFAULT_GITHUB_API_URL).replace(/\/+$/, '');
    const cooldownSeconds = options.cooldownSeconds ?? DEFAULT_COOLDOWN_SECONDS;
    this.maxAttempts = options.maxAttempts ?? DEFAULT_DISPATCH_ATTEMPTS;
    this.backoffMs = options.backoffMs ?? DEFAULT_DISPATCH_BACKOFF_MS;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    validate(
      options,
      { eventType, baseUrl, cooldownSeconds },
      {
        maxAttempts: this.maxAttempts,
        backoffMs: this.backoffMs,
        requestTimeoutMs: this.requestTimeoutMs,
      },
    );

    this.target = { owner: options.owner, repo: options.repo, eventType, baseUrl };
    this.redis = options.redis;
    this.cooldownMs = Math.ceil(cooldownSeconds * 1000);
    // GitHub names are case-insensitive: one cooldown per repository and event type, however they are spelled.
    this.cooldownKey =
      `${options.keyPrefix}:retrain-trigger:cooldown:` +
      `${options.owner}/${options.repo}:${eventType}`.toLowerCase();
    this.token = options.token?.trim() || undefined;
    this.logger = redacting(options.logger, this.token);
    if (this.token !== undefined) {
      this.octokit = new Octokit({
        auth: this.token,
        baseUrl,
        userAgent: USER_AGENT,
        // Octokit's request log (one line per request) goes to debug; the token never appears in it, and
        // every line passes through the redacting logger anyway.
        log: {
          debug: (message: string) => this.logger.debug?.(`octokit: ${message}`),
          info: (message: string) => this.logger.debug?.(`octokit: ${message}`),
          warn: (message: string) => this.logger.warn(`octokit: ${message}`),
          error: (message: string) => this.logger.error(`octokit: ${message}`),
        },
        // @octokit/rest ships no retry or throttling plugin; should one be added (e.g. by moving to the
        // `octokit` package), these options keep it off so the retry policy stays the one in `dispatch`.
        retry: { enabled: false },
        throttle: { enabled: false },
      });
    }
  }

  /** Whether a token is configured (false: every trigger is a dry run). */
  get dryRun(): boolean {
    return this.octokit === undefined;
  }

  async trigger(request: RetrainRequest): Promise<RetrainResult> {
    const payload = shapeClientPayload(request, new Date());
    const what = `retrain ${this.target.owner}/${this.target.repo} (event ${this.target.eventType}, report ${payload.reportId})`;
    if (payload.truncated) {
      const { reasons, metrics, shortenedStrings } = payload.truncated;
      this.logger.warn(
        `${what}: client_payload trimmed to GitHub's limits: ${reasons.kept}/${reasons.total} reasons, ` +
          `${metrics.kept}/${metrics.total} metrics, ${shortenedStrings} strings shortened`,
      );
    }

    if (this.octokit === undefined) {
      const body = JSON.stringify({ event_type: this.target.eventType, client_payload: payload });
      this.logger.log(`${what}: dry run, no GitHub token set; would POST ${this.dispatchUrl()} with ${body}`);
      return { outcome: 'dry_run', attempts: 0 };
    }

    let claim: Claim;
    try {
      claim = await this.claim(payload.reportId);
    } catch (error) {
      const message = `could not claim the cooldown in Redis: ${(error as Error).message}`;
      this.logger.error(`${what}: ${message}; not dispatching`);
      return { outcome: 'failed', attempts: 0, error: this.redact(message) };
    }
    if (!claim.claimed) {
      const until = claim.until ? ` until ${claim.until.toISOString()}` : ' (claim key has no expiry)';
      this.logger.log(`${what}: deduped, a retrain was already requested; cooldown${until}`);
      return { outcome: 'deduped', attempts: 0, ...(claim.until && { cooldownUntil: claim.until }) };
    }

    const sent = await this.dispatch(payload, what);
    if (sent.ok) {
      this.logger.log(
        `${what}: dispatched (attempt ${sent.attempts}, HTTP ${sent.status}); ` +
          `next retrain possible after ${claim.until.toISOString()}`,
      );
      return {
        outcome: 'dispatched',
        attempts: sent.attempts,
        status: sent.status,
        cooldownUntil: claim.until,
      };
    }
    await this.release(claim.value, what);
    return {
      outcome: 'failed',
      attempts: sent.attempts,
      ...(sent.status !== undefined && { status: sent.status }),
      error: this.redact(sent.error),
    };
  }

  /** Claims the cooldown slot: `SET NX PX`. On a taken slot, reports when it frees up. */
  private async claim(reportId: string): Promise<Claim> {
    // A slot that expires between our SET and PTTL is free again: claim it on the next turn.
    for (let turn = 0; turn < 3; turn++) {
      const value = JSON.stringify({ claim: randomUUID(), reportId, at: new Date().toISOString() });
      const claimedAt = Date.now();
      const set = await this.redis.set(this.cooldownKey, value, 'PX', this.cooldownMs, 'NX');
      if (set === 'OK') return { claimed: true, value, until: new Date(claimedAt + this.cooldownMs) };
      const ttl = await this.redis.pttl(this.cooldownKey);
      if (ttl > 0) return { claimed: false, until: new Date(Date.now() + ttl) };
      if (ttl === -1) return { claimed: false }; // set by hand without expiry: a deliberate pause
    }
    return { claimed: false };
  }

  private async release(value: string, what: string): Promise<void> {
    try {
      await this.redis.eval(RELEASE_IF_OURS, 1, this.cooldownKey, value);
    } catch (error) {
      this.logger.error(
        `${what}: could not release the cooldown claim (${(error as Error).message}); ` +
          `no retrain can be requested until ${this.cooldownKey} expires`,
      );
    }
  }

  private async dispatch(
    payload: RetrainClientPayload,
    what: string,
  ): Promise<
    | { ok: true; attempts: number; status: number }
    | { ok: false; attempts: number; status?: number; error: string }
  > {
    const octokit = this.octokit as Octokit;
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await octokit.repos.createDispatchEvent({
          owner: this.target.owner,
          repo: this.target.repo,
          event_type: this.target.eventType,
          client_payload: { ...payload },
          headers: { 'x-github-api-version': GITHUB_API_VERSION },
          request: { signal: AbortSignal.timeout(this.requestTimeoutMs) },
        });
        return { ok: true, attempts: attempt, status: response.status };
      } catch (error) {
        const failure = classifyDispatchError(error, this.target);
        if (failure.retryable && attempt < this.maxAttempts) {
          const delay = this.backoffMs * 2 ** (attempt - 1);
          this.logger.warn(
            `${what}: attempt ${attempt}/${this.maxAttempts} failed (${failure.message}); retrying in ${delay} ms`,
          );
          await sleep(delay);
          continue;
        }
        if (failure.retryable) {
          this.logger.error(
            `${what}: failed after ${attempt} attempts (${failure.message}); the next drift report will try again`,
          );
        } else {
          this.logger.error(`${what}: ${failure.message}; not retrying: ${failure.hint}`);
        }
        return {
          ok: false,
          attempts: attempt,
          ...(failure.status !== undefined && { status: failure.status }),
          error: failure.message,
        };
      }
    }
  }

  private dispatchUrl(): string {
    return `${this.target.baseUrl}/repos/${this.target.owner}/${this.target.repo}/dispatches`;
  }

  private redact(text: string): string {
    return this.token === undefined ? text : text.split(this.token).join('[REDACTED]');
  }
}

/** Every line goes out with the token (should anything ever echo it) replaced. */
function redacting(logger: RetrainLogger, token: string | undefined): RetrainLogger {
  const redact = (message: string) =>
    token === undefined ? message : message.split(token).join('[REDACTED]');
  return {
    log: (message) => logger.log(redact(message)),
    warn: (message) => logger.warn(redact(message)),
    error: (message) => logger.error(redact(message)),
    ...(logger.debug && { debug: (message: string) => logger.debug?.(redact(message)) }),
  };
}

function validate(
  options: RetrainTriggerOptions,
  resolved: { eventType: string; baseUrl: string; cooldownSeconds: number },
  limits: { maxAttempts: number; backoffMs: number; requestTimeoutMs: number },
): void {
  const problems: string[] = [];
  const name = /^[A-Za-z0-9_.-]+$/;
  if (!name.test(options.owner ?? ''))
    problems.push(`owner must be a GitHub account name, got "${options.owner}"`);
  if (!name.test(options.repo ?? '')) problems.push(`repo must be a repository name, got "${options.repo}"`);
  if (resolved.eventType.length < 1 || resolved.eventType.length > 100) {
    problems.push('eventType must be 1 to 100 characters (GitHub limit)');
  }
  try {
    const url = new URL(resolved.baseUrl);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('protocol');
  } catch {
    problems.push(`baseUrl must be an http(s) URL, got "${resolved.baseUrl}"`);
  }
  if (!(resolved.cooldownSeconds > 0) || !Number.isFinite(resolved.cooldownSeconds)) {
    problems.push(`cooldownSeconds must be a positive number, got ${resolved.cooldownSeconds}`);
  }
  if (!Number.isInteger(limits.maxAttempts) || limits.maxAttempts < 1) {
    problems.push(`maxAttempts must be an integer of at least 1, got ${limits.maxAttempts}`);
  }
  if (!(limits.backoffMs >= 0) || !Number.isFinite(limits.backoffMs)) {
    problems.push(`backoffMs must be 0 or more, got ${limits.backoffMs}`);
  }
  if (!(limits.requestTimeoutMs > 0) || !Number.isFinite(limits.requestTimeoutMs)) {
    problems.push(`requestTimeoutMs must be positive, got ${limits.requestTimeoutMs}`);
  }
  if (!options.keyPrefix) problems.push('keyPrefix must not be empty');
  if (!options.redis) problems.push('redis must be an ioredis connection');
  if (problems.length > 0) throw new Error(`invalid RetrainTrigger options: ${problems.join('; ')}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
