import {
  DynamicModule,
  Inject,
  Logger,
  Module,
  OnApplicationShutdown,
  Optional,
  Provider,
} from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import type { Redis } from 'ioredis';
import { connectRedis } from '@reputation-monitor/redis-connection';
import { LoggerModule, Params as LoggerParams } from 'nestjs-pino';
import {
  METRICS_REGISTRY,
  createAppRegistry,
  loggerParams,
  queueTelemetry,
} from '@reputation-monitor/observability';
import { SentimentProducer } from '@reputation-monitor/producer-client';
import { DatasetStore, openDatasetStore } from '@reputation-monitor/dataset-store';
import { ExampleBuffer } from '@reputation-monitor/prediction-store';
import { RetrainTrigger } from '@reputation-monitor/retrain-trigger';
import { ApiKeyGuard, AdminApiKeys, ApiKeys, MetricsController } from '@reputation-monitor/http-edge';
import type { DriftConfig } from './drift-config';
import { DatasetExporter } from './dataset-exporter';
import { DriftRunService } from './drift-run.service';
import { DriftScheduler } from './drift-scheduler';
import { DriftStore } from './drift-store';
import { GoldenSetRunner } from './golden-runner';
import { loadGoldenSet } from '@reputation-monitor/dataset-store';
import { HealthController } from './http/health.controller';
import { ReportsController } from './http/reports.controller';
import { RunsController } from './http/runs.controller';
import { DriftMetrics } from './metrics/drift-metrics';
import { ProblemFilter } from './problem/problem.filter';
import { DRIFT_CONFIG, GOLDEN_SET, PRODUCER, REDIS } from './tokens';

/** server: HTTP API and the schedule; once: one evaluation for `--run-once` (no schedule, no listener). */
export type DriftMode = 'server' | 'once';

@Module({})
export class DriftModule implements OnApplicationShutdown {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Optional() @Inject(PRODUCER) private readonly producer: SentimentProducer | null,
  ) {}

  /** `logger`: the server's request logger (main.ts mounts its middleware); a one-shot run logs to stderr. */
  static forConfig(config: DriftConfig, mode: DriftMode = 'server', logger?: LoggerParams): DynamicModule {
    const logging = LoggerModule.forRoot(logger ?? loggerParams('drift-monitor', config.log, true));
    const providers: Provider[] = [
      { provide: DRIFT_CONFIG, useValue: config },
      { provide: REDIS, useFactory: () => connectRedis(config.redis, { maxRetriesPerRequest: 3 }) },
      { provide: METRICS_REGISTRY, useValue: createAppRegistry('drift-monitor') },
      // Read at boot, so a bad GOLDEN_SET_PATH stops the app with the file and lines named.
      {
        provide: GOLDEN_SET,
        useFactory: () =>
          config.golden.path ? loadGoldenSet(config.golden.path, config.golden.limit) : null,
      },
      {
        provide: PRODUCER,
        useFactory: async () => {
          if (!config.golden.path) return null;
          const producer = new SentimentProducer({
            redis: config.redis,
            prefix: config.queuePrefix,
            telemetry: queueTelemetry(),
          });
          await producer.ready();
          return producer;
        },
      },
      {
        provide: RetrainTrigger,
        inject: [REDIS],
        useFactory: (redis: Redis) => {
          const logger = new Logger('RetrainTrigger');
          if (!config.retrain.token) {
            logger.warn('GITHUB_TOKEN is not set: retraining requests are dry runs (logged, not sent)');
          }
          return new RetrainTrigger({
            token: config.retrain.token,
            owner: config.retrain.owner,
            repo: config.retrain.repo,
            eventType: config.retrain.eventType,
            baseUrl: config.retrain.apiUrl,
            cooldownSeconds: config.retrain.cooldownSeconds,
            redis,
            keyPrefix: config.queuePrefix,
            logger,
          });
        },
      },
      {
        provide: ExampleBuffer,
        inject: [REDIS],
        useFactory: (redis: Redis) =>
          new ExampleBuffer(redis, {
            prefix: config.queuePrefix,
            ttlSeconds: config.dataset.exampleTtlSeconds,
          }),
      },
      {
        provide: DatasetStore,
        useFactory: () => {
          if (!config.dataset.store) {
            new Logger('DatasetExporter').warn(
              'DATASET_STORE=off: labelled examples stay in Redis until they expire',
            );
            return null;
          }
          return openDatasetStore(config.dataset.store, config.dataset.hub);
        },
      },
      DatasetExporter,
      DriftStore,
      DriftMetrics,
      GoldenSetRunner,
      DriftRunService,
    ];
    if (mode === 'once') return { module: DriftModule, imports: [logging], providers };
    return {
      module: DriftModule,
      imports: [logging, TerminusModule.forRoot({ errorLogStyle: 'pretty' })],
      controllers: [MetricsController, RunsController, ReportsController, HealthController],
      providers: [
        ...providers,
        DriftScheduler,
        { provide: ApiKeys, useValue: new ApiKeys(config.apiKeys) },
        { provide: AdminApiKeys, useValue: new AdminApiKeys(config.adminApiKeys) },
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        { provide: APP_FILTER, useClass: ProblemFilter },
      ],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.producer?.close().catch(() => undefined);
    await this.redis.quit().catch(() => undefined);
  }
}
