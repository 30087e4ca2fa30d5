import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { Job, UnrecoverableError, Worker } from 'bullmq';
import { connectRedis } from '@reputation-monitor/redis-connection';
import { QueueName, SentimentJobName, SentimentJobs } from '@reputation-monitor/contracts';
import { queueTelemetry } from '@reputation-monitor/observability';
import { ClassifyHandler, INVALID_PAYLOAD } from './classify-handler';
import { Heartbeat } from './heartbeat';
import { ModelManager } from './model-manager';
import { ShadowScorer } from './shadow-scorer';
import { WORKER_CONFIG } from './tokens';
import { FailureReason, WorkerMetrics } from './worker-metrics';
import type { WorkerConfig } from './worker-config';

const NO_HANDLER = 'no handler for job name';

type Handlers = { [Name in SentimentJobName]: (job: Job) => Promise<SentimentJobs[Name]['result']> };

/**
 * Owns the BullMQ worker: starts consuming only once the model is loaded and warm, and on shutdown
 * stops fetching, lets in-flight jobs finish within a time bound, then closes.
 */
@Injectable()
export class QueueConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(QueueConsumer.name);
  private worker: Worker | undefined;
  /** Exactly one handler per job name; a missing one is a compile error. */
  private readonly handlers: Handlers;

  constructor(
    private readonly models: ModelManager,
    private readonly shadow: ShadowScorer,
    private readonly heartbeat: Heartbeat,
    private readonly metrics: WorkerMetrics,
    classify: ClassifyHandler,
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
  ) {
    this.handlers = { [SentimentJobName.Classify]: (job) => classify.handle(job) };
  }

  get running(): boolean {
    return this.worker?.isRunning() ?? false;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.models.load();
    const { queue } = this.config;
    const telemetry = queueTelemetry();
    this.worker = new Worker(QueueName.Sentiment, (job) => this.process(job), {
      connection: connectRedis(this.config.redis, { maxRetriesPerRequest: null }),
      prefix: this.config.queuePrefix,
      concurrency: queue.concurrency,
      lockDuration: queue.lockDurationMs,
      stalledInterval: queue.stalledIntervalMs,
      maxStalledCount: queue.maxStalledCount,
      autorun: false,
      // A processing span per job in the trace its enqueue started (also after a retry on another worker).
      ...(telemetry && { telemetry }),
    });
    this.worker.on('failed', (job, error) => {
      this.metrics.failed(failureReason(error));
      this.logger.warn(`job ${job?.id} attempt ${job?.attemptsMade} failed: ${error.message}`);
    });
    this.worker.on('error', (error) => this.logger.error(`queue error: ${error.message}`));
    this.worker.run().catch((error: Error) => this.logger.error(`worker stopped: ${error.message}`));
    await this.worker.waitUntilReady();
    await this.heartbeat.start();
    this.logger.log(
      `consuming ${QueueName.Sentiment} (prefix ${this.config.queuePrefix}, concurrency ${queue.concurrency}, ` +
        `batch <= ${this.config.batch.maxTokens} tokens / ${this.config.batch.maxTexts} texts, wait <= ${this.config.batch.maxWaitMs} ms, ` +
        `result cache ${this.config.resultCacheTtlSeconds > 0 ? `${this.config.resultCacheTtlSeconds} s, <= ${this.config.resultCacheMaxEntries} entries` : 'off'})`,
    );
  }

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    await this.heartbeat.stop();
    if (!this.worker) return;
    this.logger.log(`shutting down (${signal ?? 'close'}): finishing in-flight jobs`);
    const worker = this.worker;
    const finished = worker.close().then(() => true);
    const timedOut = new Promise<false>((resolve) =>
      setTimeout(() => resolve(false), this.config.shutdownTimeoutMs).unref(),
    );
    if (!(await Promise.race([finished, timedOut]))) {
      // Jobs still running keep their lock until it lapses; another worker's stalled check picks them up.
      this.logger.warn(
        `in-flight jobs did not finish within ${this.config.shutdownTimeoutMs} ms; releasing them`,
      );
      await worker.close(true);
    }
    this.shadow.clear();
    await this.shadow.idle();
    await this.models.drain();
  }

  private async process(job: Job): Promise<unknown> {
    const handler = this.handlers[job.name as SentimentJobName];
    if (!handler) throw new UnrecoverableError(`${NO_HANDLER} "${job.name}"`);
    try {
      return await handler(job);
    } catch (error) {
      if (this.models.failure) this.exitForRestart(this.models.failure);
      throw error;
    }
  }

  /** The inference thread is gone: this process cannot serve; stop so the supervisor restarts it. */
  private exitForRestart(cause: Error): void {
    if (process.exitCode) return;
    this.logger.error(`${cause.message}; exiting so the worker is restarted`);
    process.exitCode = 1;
    process.kill(process.pid, 'SIGTERM');
  }
}

function failureReason(error: Error): FailureReason {
  if (error.message.startsWith(INVALID_PAYLOAD)) return 'invalid_payload';
  if (error.message.startsWith(NO_HANDLER)) return 'unknown_job';
  if (/inference|model is closed/.test(error.message)) return 'inference';
  return 'other';
}
