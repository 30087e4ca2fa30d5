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
  sourceProblem,
  REQUEST_ID_PATTERN,
  tenantProblem,
  textProblem,
} from '@reputation-monitor/contracts';
import {
  DEFAULT_WAIT_TIMEOUT_MS,
  RedisSettings,
  ReplicaWaitResult,
  ReplicaWaiter,
  connectRedis,
} from '@reputation-monitor/redis-connection';
import { DraftItem, jobIdFor, predictionId } from './job-ids';
import {
  DEFAULT_ATTEMPTS,
  DEFAULT_BACKOFF_MS,
  DEFAULT_RETENTION,
  RetentionOptions,
  classifyJobOptions,
} from './job-options';
import {
  IdempotencyConflictError,
  InvalidRequestError,
  JobFailedError,
  NotReplicatedError,
  QueueFullError,
  ResultTimeoutError,
} from './errors';

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
  private events: QueueEvents | undefined;
  private readonly maxTextChars: number;
  private readonly maxBatchItems: number;
  private readonly maxQueueDepth: number;
  private readonly retryAfterSeconds: number;
  private readonly depthCacheMs: number;
  private depthReading: { depth: number; at: number } | undefined;
  private readonly replicas: ReplicaWaiter;
  private readonly waitTimeoutMs: number;
  private readonly replicaWaitListeners: ((result: ReplicaWaitResult) => void)[] = [];

  constructor(private readonly options: SentimentProducerOptions) {
    const settings = redisSettingsOf(options);
    // Fail fast while Redis is unreachable instead of queueing commands in memory behind a request.
    this.connection = connectRedis(settings, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    this.connection.on('error', () => undefined); // reported through failed commands and readiness checks
    // Every job is confirmed on replicas with WAIT on this connection, the one queue.add writes with.
    this.waitTimeoutMs = settings.waitTimeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
    this.replicas = new ReplicaWaiter(this.connection, {
      replicas: settings.waitReplicas,
      timeoutMs: this.waitTimeoutMs,
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
    this.depthCacheMs = options.depthCacheMs ?? 100;
  }

  /** Resolves once Redis answers; call before serving traffic. */
  async ready(): Promise<void> {
    await this.queue.waitUntilReady();
    await this.queueEvents().waitUntilReady();
  }

  /** The raw Redis connection, for health checks that share it. */
  get redis(): Redis {
    return this.connection;
  }

  /** Enqueues texts as one job. Validates first, then checks the backlog; an unchanged retry returns the existing job. */
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
        if (!sameWork(existing, payload)) throw new IdempotencyConflictError(jobId);
        // A retry of an enqueue that was not confirmed: confirm it now (WAIT covers this connection's writes).
        await this.confirmReplicated(jobId);
        return { jobId, items: existing.items, existing: true };
      }
    }
    await this.assertCapacity();
    await this.queue.add(SentimentJobName.Classify, payload, { jobId });
    this.depthReading = undefined;
    await this.confirmReplicated(jobId);
    if (deterministic) {
      // BullMQ's add keeps the first job of an id and ignores later ones without saying so: read back
      // what was stored, so of two concurrent requests with one id and different texts exactly one wins.
      const stored = await this.storedPayload(jobId);
      if (stored && !sameWork(stored, payload)) throw new IdempotencyConflictError(jobId);
    }
    return { jobId, items: payload.items, existing: false };
  }

  /** The payload stored under a job id, or undefined when there is no such job (one HGET). */
  private async storedPayload(jobId: string): Promise<ClassifyJobPayload | undefined> {
    // The queue's client resolves once connected (the raw connection has no offline queue).
    const client = await this.queue.client;
    const data = await client.hget(this.queue.toKey(jobId), 'data');
    return data === null ? undefined : (JSON.parse(data) as ClassifyJobPayload);
  }

  /** Waits for a job's result. Throws ResultTimeoutError when it is still running after `timeoutMs`. */
  async waitForResult(jobId: string, timeoutMs: number): Promise<ClassifyJobResult> {
    const job = new Job<ClassifyJobPayload, ClassifyJobResult, SentimentJobName>(
      this.queue,
      SentimentJobName.Classify,
      {} as ClassifyJobPayload,
      {},
      jobId,
    );
    try {
      return await job.waitUntilFinished(this.queueEvents(), timeoutMs);
    } catch (error) {
      const state = await this.queue.getJobState(jobId);
      if (state === 'failed') throw new JobFailedError(jobId, (error as Error).message);
      if (state === 'completed') {
        const finished = await Job.fromId<ClassifyJobPayload, ClassifyJobResult>(this.queue, jobId);
        if (finished?.returnvalue) return finished.returnvalue;
      }
      throw new ResultTimeoutError(jobId, timeoutMs);
    }
  }

  /** Enqueues and waits: the one-call way to classify. */
  async classify(
    items: readonly DraftItem[],
    timeoutMs: number,
    options: EnqueueOptions = {},
  ): Promise<ClassifyJobResult> {
    const { jobId } = await this.enqueue(items, options);
    return this.waitForResult(jobId, timeoutMs);
  }

  /**
   * A job's status and, once done, its results; undefined for ids never seen, already expired, or owned by
   * another tenant than `tenant` (the producer's own when not given), so a caller cannot tell those apart.
   */
  async getJob(jobId: string, tenant = this.options.tenant): Promise<JobStatusView | undefined> {
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
    const job = await Job.fromId<ClassifyJobPayload, ClassifyJobResult>(this.queue, jobId);
    if (!job || !Array.isArray(job.data?.items) || job.data.tenant !== tenant) return undefined;
    return { items: job.data.items, ...(job.data.source !== undefined && { source: job.data.source }) };
  }

  /** Jobs waiting for a worker, read from Redis at most once per `depthCacheMs`. */
  async waitingDepth(): Promise<number> {
    const now = Date.now();
    if (this.depthReading && now - this.depthReading.at < this.depthCacheMs) return this.depthReading.depth;
    const depth = await this.queue.getWaitingCount();
    this.depthReading = { depth, at: now };
    return depth;
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

  /** Calls `listener` with the id of every job that completes in this queue (from any producer). */
  onCompleted(listener: (jobId: string) => void): void {
    this.queueEvents().on('completed', ({ jobId }) => listener(jobId));
  }

  async close(): Promise<void> {
    await this.events?.close();
    await this.queue.close();
    this.connection.disconnect();
  }

  private queueEvents(): QueueEvents {
    // QueueEvents blocks on XREAD, so it needs a connection of its own.
    this.events ??= new QueueEvents(QueueName.Sentiment, {
      connection: { ...this.connection.options, enableOfflineQueue: true, maxRetriesPerRequest: null },
      prefix: this.options.prefix ?? DEFAULT_QUEUE_PREFIX,
    });
    return this.events;
  }

  /**
   * Resolves once the replicas the settings ask for hold the job (Redis WAIT after the write, on the connection
   * that wrote). Throws NotReplicatedError when fewer acknowledged in time: the job is on the primary and may
   * run, but a failover now could lose it, so it is not confirmed to the caller.
   */
  private async confirmReplicated(jobId: string): Promise<void> {
    const result = await this.replicas.confirm();
    if (result.outcome === 'timeout')
      throw new NotReplicatedError(
        jobId,
        result.wanted,
        result.acked,
        this.waitTimeoutMs,
        this.retryAfterSeconds,
      );
  }

  private async assertCapacity(): Promise<void> {
    if (this.maxQueueDepth <= 0) return;
    const depth = await this.waitingDepth();
    if (depth >= this.maxQueueDepth)
      throw new QueueFullError(depth, this.maxQueueDepth, this.retryAfterSeconds);
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
