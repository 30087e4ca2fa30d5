import { Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { connectRedis } from '@reputation-monitor/redis-connection';
import { LoggerModule } from 'nestjs-pino';
import { loggerParams } from '@reputation-monitor/observability';
import { PredictionLog } from '@reputation-monitor/prediction-store';
import { ClassifyHandler } from './classify-handler';
import { HealthServer } from './health-server';
import { Heartbeat } from './heartbeat';
import { QueueConsumer } from './queue-consumer';
import { ResultCache } from './result-cache';
import { ModelManager } from './model-manager';
import { ShadowScorer } from './shadow-scorer';
import { REDIS, WORKER_CONFIG } from './tokens';
import { WorkerConfig } from './worker-config';
import { WorkerMetrics } from './worker-metrics';

@Module({})
export class WorkerModule implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  static forConfig(config: WorkerConfig) {
    return {
      module: WorkerModule,
      imports: [LoggerModule.forRoot(loggerParams('inference-worker', config.log))],
      providers: [
        { provide: WORKER_CONFIG, useValue: config },
        { provide: REDIS, useFactory: () => connectRedis(config.redis, { maxRetriesPerRequest: 3 }) },
        WorkerMetrics,
        ModelManager,
        ShadowScorer,
        {
          provide: PredictionLog,
          inject: [REDIS],
          useFactory: (redis: Redis) =>
            new PredictionLog(redis, {
              prefix: config.queuePrefix,
              streamMaxLen: config.predictionStreamMaxLen,
              indexHours: config.predictionIndexHours,
              indexMaxEntries: config.predictionIndexMaxEntries,
            }),
        },
        {
          provide: ResultCache,
          inject: [REDIS, WorkerMetrics],
          useFactory: (redis: Redis, metrics: WorkerMetrics) =>
            new ResultCache(
              redis,
              {
                prefix: config.queuePrefix,
                ttlSeconds: config.resultCacheTtlSeconds,
                maxEntries: config.resultCacheMaxEntries,
                maxTokens: config.maxTokens,
              },
              metrics,
            ),
        },
        Heartbeat,
        ClassifyHandler,
        QueueConsumer,
        HealthServer,
      ],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => undefined);
  }
}
