import { createHash } from 'node:crypto';
import { Job, Queue, QueueEvents, Telemetry } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  ClassifyJobPayload,
  ClassifyJobResult,
  DEFAULT_MAX_BATCH_ITEMS,
  DEFAULT_MAX_TEXT_CHARS,
  DEFAULT_QUEUE_PREFIX,
  FieldError,
  JobStatus,
  JobStatusView,
  QueueName,
  SentimentJobName,
  TextItem,
  clientIdProblem,
  redisKeys,
  scopedPredictionId,
  sourceProblem,
  REQUEST_ID_PATTERN,
  tenantProblem,
  textProblem,
} from '@reputation-monitor/contracts';
import {
  CappedHashRing,
  RedisSettings,
  ReplicaWaitInterruptedError,
  ReplicaWaitResult,
  ReplicaWaiter,
  connectRedis,
} from '@reputation-monitor/redis-connection';
import { DraftItem, jobIdFor, jobIdInScope, predictionId } from './job-ids';
import {
  DEFAULT_ATTEMPTS,
  DEFAULT_BACKOFF_MS,
  DEFAULT_RETENTION,
  RetentionOptions,
  classifyJobOptions,
} from './job-options';
import { FinishWatch } from './finish-watch';
import { QueueCapacity } from './queue-capacity';
import {
  IdempotencyConflictError,
  InvalidRequestError,
  JobFailedError,
  NotReplicatedError,
  QueueFullError,
  ResultTimeoutError,
} from './errors';

/** Jobs whose finish one producer listens for at most (callers waiting, results not yet claimed). */
const MAX_WATCHED_JOBS = 100_000;
/** How often a completion listener that could not start listening tries again. */
const LISTEN_RETRY_MS = 1_000;
/** Client ids claimed for their texts at most (about 140 bytes each in Redis), unless set. */
export const DEFAULT_ID_CLAIM_MAX_ENTRIES = 100_000;

/** Where Redis is: the settings every app reads from `REDIS_*` (Sentinel, WAIT), or just a URL. */
export type ProducerRedis =
  | {
      /** The deployment's Redis settings: a URL or Sentinel, and the replicas each enqueue waits for. */
      redis: RedisSettings;
      redisUrl?: never;
    }
  | {
      /** redis://host:port/db (rediss:// for TLS); the same as `redis: { url }`. */
      redisUrl: string;
      redis?: never;
    };

export type SentimentProducerOptions = ProducerRedis & ProducerBehaviour;

export interface ProducerBehaviour {
  /** BullMQ key prefix; producers and workers must agree on it. */
  prefix?: string;
  maxTextChars?: number;
  maxBatchItems?: number;
  /** Refuse new jobs while more than this many are waiting (0 = no limit). */
  maxQueueDepth?: number;
  /** Seconds a refused caller is told to wait. */
  retryAfterSeconds?: number;
  /** How long a queue depth reading is reused, so hot paths do not ask Redis on every call. */
  depthCacheMs?: number;
  retention?: RetentionOptions;
  /**
   * Most client ids claimed for their texts at once (0: no claims). Each id a caller names is claimed for its
   * text for `retention.completedAgeSeconds` (at most 8/7 of it), unless this many newer ids push it out: sent
   * again with another text in that time, in any job, it is refused (IdempotencyConflictError). An enqueue
   * refused before its job is stored gives its claims back. Every producer of a queue should agree on it.
   */
  idClaimMaxEntries?: number;
  attempts?: number;
  backoffMs?: number;
  /**
   * The tenant this producer's jobs belong to (an internal service names itself, e.g. `alerts`): its job ids
   * are scoped by it and only `getJob` calls naming it see them. Unset: unowned jobs.
   */
  tenant?: string;
  /** BullMQ telemetry (e.g. bullmq-otel): a span per enqueue, its trace context carried to the worker. */
  telemetry?: Telemetry;
}

export interface EnqueueOptions {
  /** Where the texts come from (bounded set of names, used for reporting). */
  source?: string;
  /** Owner of this job, instead of the producer's `tenant` (the gateway passes each caller's). */
  tenant?: string;
  /** The request that asks for it (the gateway's x-request-id): in the worker's log lines and the stream. */
  requestId?: string;
  /**
   * The caller will `waitForResult` next: the job's finish is listened for from before it is added, so the
   * wait needs no Redis call. Without it, waiting asks Redis once whether the job already finished.
   */
  awaitResult?: boolean;
}

export interface EnqueuedJob {
  jobId: string;
  items: TextItem[];
  /** True when the id matched a job that was already queued or done: nothing new was enqueued. */
  existing: boolean;
}

/**
 * The typed way for internal services to get sentiment without HTTP: validates texts with the same
 * rules as the gateway, applies backpressure, enqueues one job per call and waits for its result.
 */
export class SentimentProducer {
  readonly queue: Queue<ClassifyJobPayload, ClassifyJobResult, SentimentJobName>;
  private readonly connection: Redis;
  private closed = false;
  private events: Promise<QueueEvents> | undefined;
  private finishes: FinishWatch<ClassifyJobResult> | undefined;
  private readonly maxTextChars: number;
  private readonly maxBatchItems: number;
  private readonly maxQueueDepth: number;
  private readonly retryAfterSeconds: number;
  private readonly capacity: QueueCapacity;
  private readonly idClaims: CappedHashRing | undefined;
  private readonly replicas: ReplicaWaiter;
  private readonly replicaWaitListeners: ((result: ReplicaWaitResult) => void)[] = [];

  constructor(private readonly options: SentimentProducerOptions) {
    const settings = redisSettingsOf(options);
    // Fail fast while Redis is unreachable instead of queueing commands in memory behind a request.
    this.connection = connectRedis(settings, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    this.connection.on('error', () => undefined); // reported through failed commands and readiness checks
    // Every job is confirmed on replicas with WAIT on this connection, the one queue.add writes with.
    this.replicas = new ReplicaWaiter(this.connection, {
      replicas: settings.waitReplicas,
      timeoutMs: settings.waitTimeoutMs,
      onResult: (result) => this.replicaWaitListeners.forEach((listener) => listener(result)),
    });
    // After a reconnect (a failover) the primary may be another one, with other replicas.
    this.connection.on('ready', () => this.replicas.reset());
    this.queue = new Queue(QueueName.Sentiment, {
      connection: this.connection,
      prefix: options.prefix ?? DEFAULT_QUEUE_PREFIX,
      ...(options.telemetry && { telemetry: options.telemetry }),
      defaultJobOptions: classifyJobOptions(
        options.retention ?? DEFAULT_RETENTION,
        options.attempts ?? DEFAULT_ATTEMPTS,
        options.backoffMs ?? DEFAULT_BACKOFF_MS,
      ),
    });
    this.maxTextChars = options.maxTextChars ?? DEFAULT_MAX_TEXT_CHARS;
    this.maxBatchItems = options.maxBatchItems ?? DEFAULT_MAX_BATCH_ITEMS;
    this.maxQueueDepth = options.maxQueueDepth ?? 0;
    this.retryAfterSeconds = options.retryAfterSeconds ?? 2;
    this.capacity = new QueueCapacity(this.maxQueueDepth, options.depthCacheMs ?? 100, () =>
      this.queue.getWaitingCount(),
    );
    const claimEntries = options.idClaimMaxEntries ?? DEFAULT_ID_CLAIM_MAX_ENTRIES;
    this.idClaims =
      claimEntries > 0
        ? new CappedHashRing(this.connection, {
            key: redisKeys.idClaims(options.prefix ?? DEFAULT_QUEUE_PREFIX),
            limits: {
              maxEntries: claimEntries,
              retainMs: (options.retention ?? DEFAULT_RETENTION).completedAgeSeconds * 1_000,
            },
          })
        : undefined;
  }

  /** Resolves once Redis answers; call before serving traffic. */
  async ready(): Promise<void> {
    await this.queue.waitUntilReady();
    await (await this.queueEvents()).waitUntilReady();
  }

  /** The raw Redis connection, for health checks that share it. */
  get redis(): Redis {
    return this.connection;
  }

  /**
   * Enqueues texts as one job. Validates first, then checks the backlog; an unchanged retry returns the existing
   * job. A client id already sent with another text (in any job, within the retention) is refused.
   */
  async enqueue(items: readonly DraftItem[], options: EnqueueOptions = {}): Promise<EnqueuedJob> {
    const tenant = options.tenant ?? this.options.tenant;
    this.validate(items, options, tenant);
    const { jobId, deterministic } = jobIdFor(items, tenant);
    const payload: ClassifyJobPayload = {
      v: 1,
      items: items.map((item, index) => ({
        id: predictionId(jobId, item, index, items.length),
        text: item.text,
      })),
      enqueuedAt: Date.now(),
      ...(options.source !== undefined && { source: options.source }),
      ...(tenant !== undefined && { tenant }),
      ...(options.requestId !== undefined && { requestId: options.requestId }),
    };
    if (deterministic) {
      const existing = await this.storedPayload(jobId);
      if (existing) {
        if (!sameWork(existing, payload)) throw new IdempotencyConflictError({ jobId });
        // A retry of an enqueue that was not confirmed: confirm it now (WAIT covers this connection's writes).
        await this.confirmReplicated(jobId);
        return { jobId, items: existing.items, existing: true };
      }
    }
    const claimed = await this.claimIds(items, tenant);
    let added = false;
    let watch: FinishWatch<ClassifyJobResult> | undefined;
    try {
      // Before the slot is taken: a slot must always reach `release`. A caller-given id may name a job another
      // request adds (and finishes) first, so this add adds nothing: such jobs are waited for through Redis.
      watch = options.awaitResult && !deterministic ? await this.finishWatch() : undefined;
      const slot = await this.capacity.reserve();
      if (!slot.reserved) throw new QueueFullError(slot.depth, this.maxQueueDepth, this.retryAfterSeconds);
      watch?.watch(jobId);
      try {
        await this.queue.add(SentimentJobName.Classify, payload, { jobId });
        added = true;
      } finally {
        this.capacity.release(added);
      }
    } catch (error) {
      watch?.forget(jobId);
      // Refused or failed before the job was stored (queue full, Redis at maxmemory): the ids this call
      // claimed are free again, so a refused request leaves nothing behind.
      await this.releaseIds(claimed);
      throw error;
    }
    try {
      await this.confirmReplicated(jobId);
      if (deterministic) {
        // BullMQ's add keeps the first job of an id and ignores later ones without saying so: read back
        // what was stored, so of two concurrent requests with one id and different texts exactly one wins.
        const stored = await this.storedPayload(jobId);
        if (stored && !sameWork(stored, payload)) throw new IdempotencyConflictError({ jobId });
      }
    } catch (error) {
      watch?.forget(jobId); // the caller gets an error, not a job to wait for
      throw error;
    }
    return { jobId, items: payload.items, existing: false };
  }

  /**
   * Claims each client id for its text, all or none (one script call): the prediction index, and so feedback,
   * finds predictions by id, so one id must not name two texts while its predictions are looked up.
   */
  private async claimIds(
    items: readonly DraftItem[],
    tenant: string | undefined,
  ): Promise<ReadonlyArray<readonly [string, string]>> {
    if (!this.idClaims) return [];
    const named = items.flatMap((item, index) =>
      item.id === undefined
        ? []
        : [
            {
              index,
              id: item.id,
              claim: [scopedPredictionId(tenant, item.id), textDigest(item.text)] as const,
            },
          ],
    );
    if (named.length === 0) return [];
    await this.queue.client; // resolves once connected (the raw connection has no offline queue)
    const { conflicts, written } = await this.idClaims.claim(named.map((item) => item.claim));
    if (conflicts.length === 0) return written.map((position) => named[position].claim);
    throw new IdempotencyConflictError({
      errors: conflicts.map((position) => ({
        field: `items[${named[position].index}].id`,
        message: `"${named[position].id}" was already used for another text`,
      })),
    });
  }

  /** Gives up claims an enqueue wrote; a failure to (Redis gone) only keeps them until they age out. */
  private async releaseIds(claims: ReadonlyArray<readonly [string, string]>): Promise<void> {
    await this.idClaims?.release(claims).catch(() => undefined);
  }

  /** The payload stored under a job id, or undefined when there is no such job (one HGET). */
  private async storedPayload(jobId: string): Promise<ClassifyJobPayload | undefined> {
    // The queue's client resolves once connected (the raw connection has no offline queue).
    const client = await this.queue.client;
    const data = await client.hget(this.queue.toKey(jobId), 'data');
    return data === null ? undefined : (JSON.parse(data) as ClassifyJobPayload);
  }

  /**
   * Waits for a job's result. Throws ResultTimeoutError when it is still running after `timeoutMs`,
   * JobFailedError when it failed for good.
   */
  async waitForResult(jobId: string, timeoutMs: number): Promise<ClassifyJobResult> {
    const watched = this.finishes?.wait(jobId, timeoutMs);
    if (watched) {
      const outcome = await watched;
      if (outcome === 'timeout') return this.afterWaitTimeout(jobId, timeoutMs);
      // Closing: the job may still finish; the caller can look it up later, as after a timeout.
      if ('closed' in outcome) throw new ResultTimeoutError(jobId, timeoutMs);
      if (!outcome.completed) throw new JobFailedError(jobId, outcome.reason);
      return outcome.result;
    }
    const job = new Job<ClassifyJobPayload, ClassifyJobResult, SentimentJobName>(
      this.queue,
      SentimentJobName.Classify,
      {} as ClassifyJobPayload,
      {},
      jobId,
    );
    try {
      return await job.waitUntilFinished(await this.queueEvents(), timeoutMs);
    } catch {
      return this.afterWaitTimeout(jobId, timeoutMs);
    }
  }

  /** No finish event in time (or the wait broke): what Redis says the job's state is. */
  private async afterWaitTimeout(jobId: string, timeoutMs: number): Promise<ClassifyJobResult> {
    const state = await this.queue.getJobState(jobId);
    if (state === 'failed') {
      const failed = await Job.fromId(this.queue, jobId);
      throw new JobFailedError(jobId, failed?.failedReason ?? 'failed');
    }
    if (state === 'completed') {
      const finished = await Job.fromId<ClassifyJobPayload, ClassifyJobResult>(this.queue, jobId);
      if (finished?.returnvalue) return finished.returnvalue;
    }
    throw new ResultTimeoutError(jobId, timeoutMs);
  }

  /** Enqueues and waits: the one-call way to classify. */
  async classify(
    items: readonly DraftItem[],
    timeoutMs: number,
    options: EnqueueOptions = {},
  ): Promise<ClassifyJobResult> {
    const { jobId } = await this.enqueue(items, { ...options, awaitResult: true });
    return this.waitForResult(jobId, timeoutMs);
  }

  /**
   * A job's status and, once done, its results; undefined for ids never seen, already expired, or owned by
   * another tenant than `tenant` (the producer's own when not given), so a caller cannot tell those apart.
   */
  async getJob(jobId: string, tenant = this.options.tenant): Promise<JobStatusView | undefined> {
    // Another tenant's id is refused unread: no Redis read whose time could say whether it exists.
    if (!jobIdInScope(jobId, tenant)) return undefined;
    // State first: a job's state and its return value change together, so a job read after its
    // state can only be as new or newer, never a completed state without its results.
    const state = await this.queue.getJobState(jobId);
    if (state === 'unknown') return undefined;
    const job = await Job.fromId<ClassifyJobPayload, ClassifyJobResult>(this.queue, jobId);
    if (!job || job.data?.tenant !== tenant) return undefined;
    const status = toStatus(state);
    const view: JobStatusView = { jobId, status, items: job.data.items.length };
    if (status === 'completed' && job.returnvalue) {
      view.model = job.returnvalue.model;
      view.results = job.returnvalue.predictions;
      view.timings = job.returnvalue.timings;
    }
    if (status === 'failed') view.error = job.failedReason;
    return view;
  }

  /** The texts (and source) a job of `tenant` was enqueued with, while the job is kept; undefined after. */
  async jobItems(
    jobId: string,
    tenant = this.options.tenant,
  ): Promise<Pick<ClassifyJobPayload, 'items' | 'source'> | undefined> {
    if (!jobIdInScope(jobId, tenant)) return undefined;
    const job = await Job.fromId<ClassifyJobPayload, ClassifyJobResult>(this.queue, jobId);
    if (!job || !Array.isArray(job.data?.items) || job.data.tenant !== tenant) return undefined;
    return { items: job.data.items, ...(job.data.source !== undefined && { source: job.data.source }) };
  }

  /**
   * The QueueFullError an enqueue of a new job would throw now (decided as enqueue decides), or undefined when
   * there is room. Takes no slot: for refusing a request before paying for it (the gateway answers 429 before
   * validating); the enqueue that follows decides again. A retry naming an existing job should not ask: enqueue
   * returns such a job even when the queue is full.
   */
  async queueFull(): Promise<QueueFullError | undefined> {
    const depth = await this.capacity.refusal();
    return depth === undefined
      ? undefined
      : new QueueFullError(depth, this.maxQueueDepth, this.retryAfterSeconds);
  }

  /** Jobs waiting for a worker, read from Redis at most once per `depthCacheMs`. */
  async waitingDepth(): Promise<number> {
    return this.capacity.waitingDepth();
  }

  /**
   * Calls `listener` after every enqueue's replica confirmation (WAIT): its outcome and how long it took, for
   * metrics. `error` outcomes are connection failures, which the enqueue also throws.
   */
  onReplicaWait(listener: (result: ReplicaWaitResult) => void): void {
    this.replicaWaitListeners.push(listener);
  }

  /** WAITs sent for how many enqueues: the coalescing at work (benchmarks). */
  get replicaWaitStats(): { confirms: number; waits: number } {
    return { ...this.replicas.stats };
  }

  /**
   * Calls `listener` with the id of every job that completes in this queue (from any producer). Added while the
   * event stream cannot be read (Redis unreachable, a user not allowed to yet), it starts listening once it can
   * (tried every second until closed).
   */
  onCompleted(listener: (jobId: string) => void): void {
    this.queueEvents().then(
      (events) => events.on('completed', ({ jobId }) => listener(jobId)),
      () => {
        if (!this.closed) setTimeout(() => this.onCompleted(listener), LISTEN_RETRY_MS).unref();
      },
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    this.finishes?.close();
    await (await this.events?.catch(() => undefined))?.close();
    await this.queue.close();
    this.connection.disconnect();
  }

  /**
   * The queue's event stream, read from its newest entry at the time of the first call: from a concrete id,
   * unlike BullMQ's default `$`, so no event between two reads is skipped and a job watched before its add
   * cannot finish unseen.
   */
  private queueEvents(): Promise<QueueEvents> {
    this.events ??= (async () => {
      await this.queue.client; // resolves once the shared connection is ready (it has no offline queue)
      const newest = await this.connection.xrevrange(this.queue.keys.events, '+', '-', 'COUNT', 1);
      // QueueEvents blocks on XREAD, so it needs a connection of its own.
      const events = new QueueEvents(QueueName.Sentiment, {
        connection: { ...this.connection.options, enableOfflineQueue: true, maxRetriesPerRequest: null },
        prefix: this.options.prefix ?? DEFAULT_QUEUE_PREFIX,
        lastEventId: newest[0]?.[0] ?? '0-0',
      });
      // Without a listener an error event would throw; waits whose event is lost end at their timeout,
      // when the job's state is read from Redis.
      events.on('error', () => undefined);
      return events;
    })();
    // A failed start (Redis down) is retried by the next call.
    this.events.catch(() => {
      this.events = undefined;
    });
    return this.events;
  }

  private async finishWatch(): Promise<FinishWatch<ClassifyJobResult>> {
    const events = await this.queueEvents();
    this.finishes ??= new FinishWatch<ClassifyJobResult>(events, MAX_WATCHED_JOBS);
    return this.finishes;
  }

  /**
   * Resolves once the replicas the settings ask for hold the job (Redis WAIT after the write, on the connection
   * that wrote). Throws NotReplicatedError when fewer acknowledged in time: the job is on the primary and may
   * run, but a failover now could lose it, so it is not confirmed to the caller.
   */
  private async confirmReplicated(jobId: string): Promise<void> {
    const result = await this.replicas.confirm().catch((error: Error) => {
      if (!(error instanceof ReplicaWaitInterruptedError)) throw error;
      // The job is on the primary (the write was answered); whether a replica has it is unknown.
      throw new NotReplicatedError(
        jobId,
        this.replicas.numReplicas,
        0,
        this.replicas.timeoutMs,
        this.retryAfterSeconds,
      );
    });
    if (result.outcome === 'timeout')
      throw new NotReplicatedError(
        jobId,
        result.wanted,
        result.acked,
        this.replicas.timeoutMs,
        this.retryAfterSeconds,
      );
  }

  private validate(items: readonly DraftItem[], options: EnqueueOptions, tenant: string | undefined): void {
    const errors: FieldError[] = [];
    if (tenant !== undefined) {
      const issue = tenantProblem(tenant);
      if (issue) errors.push({ field: 'tenant', message: issue });
    }
    if (options.requestId !== undefined && !REQUEST_ID_PATTERN.test(options.requestId))
      errors.push({
        field: 'requestId',
        message: 'must be 1-128 characters of letters, digits, "_", ".", ":" or "-"',
      });
    if (items.length === 0) errors.push({ field: 'items', message: 'must hold at least one text' });
    if (items.length > this.maxBatchItems) {
      errors.push({
        field: 'items',
        message: `must hold at most ${this.maxBatchItems} texts (got ${items.length})`,
      });
    }
    const seen = new Set<string>();
    items.forEach((item, index) => {
      const textIssue = textProblem(item.text, this.maxTextChars);
      if (textIssue) errors.push({ field: `items[${index}].text`, message: textIssue });
      if (item.id !== undefined) {
        const idIssue = clientIdProblem(item.id);
        if (idIssue) errors.push({ field: `items[${index}].id`, message: idIssue });
        else if (seen.has(item.id))
          errors.push({ field: `items[${index}].id`, message: `repeats the id "${item.id}"` });
        seen.add(item.id);
      }
    });
    if (options.source !== undefined) {
      const issue = sourceProblem(options.source);
      if (issue) errors.push({ field: 'source', message: issue });
    }
    if (errors.length > 0) throw new InvalidRequestError(errors);
  }
}

function redisSettingsOf(options: ProducerRedis): RedisSettings {
  if (options.redis) return options.redis;
  if (typeof options.redisUrl === 'string') return { url: options.redisUrl };
  throw new TypeError('SentimentProducer needs `redis` (the Redis settings) or `redisUrl`');
}

/** What a claimed id is bound to: 96 bits of the text's SHA-256 (another text passes for it once in 2^96). */
function textDigest(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 16);
}

function sameWork(a: ClassifyJobPayload, b: ClassifyJobPayload): boolean {
  return (
    a.source === b.source &&
    a.items.length === b.items.length &&
    a.items.every((item, index) => item.id === b.items[index].id && item.text === b.items[index].text)
  );
}

function toStatus(state: string): JobStatus {
  switch (state) {
    case 'active':
      return 'active';
    case 'completed':
      return 'completed';
    case 'failed':
      return 'failed';
    default:
      // waiting, delayed (backoff before a retry), prioritized, waiting-children
      return 'queued';
  }
}
