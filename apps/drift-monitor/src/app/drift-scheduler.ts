import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { connectRedis } from '@reputation-monitor/redis-connection';
import type { DriftConfig } from './drift-config';
import { DRIFT_QUEUE_SETTINGS, DriftJobName, DriftQueueName, WINDOW_SCHEDULER_ID } from './drift-queue';
import { DriftRunService } from './drift-run.service';
import { DRIFT_CONFIG } from './tokens';

/** What a scheduled job carries: nothing; the window comes from the time it was scheduled for. */
export type EvaluateWindowJob = Record<string, never>;

/** Handlers by job name: a job name without one (or with two) does not compile. */
type Handlers = Record<DriftJobName, (job: Job<EvaluateWindowJob>) => Promise<unknown>>;

/**
 * Evaluates each window exactly once across replicas. Every replica upserts the same BullMQ job scheduler
 * (same id: one schedule, whoever wrote it last), which puts one job per cron tick on the queue; one
 * replica's worker takes it. The handler only hands the window to DriftRunService.
 */
@Injectable()
export class DriftScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('DriftScheduler');
  // Typed by string: BullMQ types the scheduler id like a job name.
  private queue: Queue<EvaluateWindowJob, unknown, string> | undefined;
  private worker: Worker<EvaluateWindowJob, unknown, DriftJobName> | undefined;
  private readonly connections: Redis[] = [];
  private readonly handlers: Handlers = {
    [DriftJobName.EvaluateWindow]: (job) =>
      this.runs.run({ windowEnd: scheduledFor(job), triggeredBy: 'schedule' }).then((report) => report.id),
  };

  constructor(
    private readonly runs: DriftRunService,
    @Inject(DRIFT_CONFIG) private readonly config: DriftConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const settings = DRIFT_QUEUE_SETTINGS[DriftQueueName.Evaluations];
    const prefix = this.config.queuePrefix;
    const schedule = this.config.schedule;
    const queueConnection = this.connection(3);
    this.queue = new Queue(DriftQueueName.Evaluations, { connection: queueConnection, prefix });
    if (schedule === undefined) {
      // SCHEDULE=off: drop a schedule an earlier deployment left, so no replica keeps evaluating.
      await this.queue.removeJobScheduler(WINDOW_SCHEDULER_ID);
      this.logger.log('SCHEDULE=off: windows are evaluated only on request (POST /v1/runs, --run-once)');
      return;
    }
    await this.queue.upsertJobScheduler(
      WINDOW_SCHEDULER_ID,
      { pattern: schedule },
      {
        name: DriftJobName.EvaluateWindow,
        data: {},
        opts: {
          attempts: 1,
          removeOnComplete: { count: settings.keepCompleted },
          removeOnFail: { count: settings.keepFailed },
        },
      },
    );
    this.worker = new Worker(
      DriftQueueName.Evaluations,
      async (job) => {
        const handler = this.handlers[job.name];
        if (!handler) throw new Error(`no handler for job ${job.name}`);
        return handler(job);
      },
      {
        // Blocking reads need a connection of their own that never gives up.
        connection: this.connection(null),
        prefix,
        concurrency: settings.concurrency,
        lockDuration: settings.lockDurationMs,
        stalledInterval: settings.stalledIntervalMs,
        maxStalledCount: settings.maxStalledCount,
      },
    );
    this.worker.on('failed', (job, error) =>
      this.logger.error(`scheduled evaluation ${job?.id ?? '?'} failed: ${error.message}`),
    );
    this.worker.on('error', (error) => this.logger.warn(`evaluation worker: ${error.message}`));
    this.logger.log(`windows of ${this.config.windowMinutes} min evaluated on schedule "${schedule}"`);
  }

  /** Workers before queues: stop taking jobs, let the current run finish, then close the connections. */
  async onApplicationShutdown(): Promise<void> {
    await this.worker?.close().catch(() => undefined);
    await this.queue?.close().catch(() => undefined);
    for (const connection of this.connections) connection.disconnect();
  }

  private connection(maxRetriesPerRequest: number | null): Redis {
    const connection = connectRedis(this.config.redis, { maxRetriesPerRequest });
    connection.on('error', () => undefined); // surfaced by the worker's own error events and readiness
    this.connections.push(connection);
    return connection;
  }
}

/** The cron tick a scheduled job stands for (BullMQ keeps it as `prevMillis`), so a late job still evaluates its own window. */
export function scheduledFor(job: Pick<Job, 'opts' | 'timestamp' | 'delay'>): number {
  const tick = (job.opts as { prevMillis?: number }).prevMillis;
  return typeof tick === 'number' && Number.isFinite(tick) ? tick : job.timestamp + (job.delay ?? 0);
}
