import { resolve } from 'node:path';
import { DynamicModule, Inject, Logger, Module, OnApplicationShutdown, Optional } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { ThrottlerModule } from '@nestjs/throttler';
import { LoggerModule, Params as LoggerParams } from 'nestjs-pino';
import { METRICS_REGISTRY, createAppRegistry, queueTelemetry } from '@reputation-monitor/observability';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import type { Redis } from 'ioredis';
import { connectRedis } from '@reputation-monitor/redis-connection';
import { SentimentProducer } from '@reputation-monitor/producer-client';
import { ExampleBuffer, FeedbackStore } from '@reputation-monitor/prediction-store';
import { AdminApiKeys, ApiKeyGuard, ApiKeys, MetricsController } from '@reputation-monitor/http-edge';
import { AssignmentStore, ModelAdmin, openModelRegistry } from '@reputation-monitor/model-registry';
import { ModelsController } from './admin/models.controller';
import { ExamplesController } from './feedback/examples.controller';
import { FeedbackController } from './feedback/feedback.controller';
import { FeedbackService } from './feedback/feedback.service';
import { HealthController } from './health/health.controller';
import { GatewayMetrics } from './metrics/gateway-metrics';
import { ProblemFilter } from './problem/problem.filter';
import { SentimentController } from './sentiment/sentiment.controller';
import { RATE_LIMIT_WINDOW_MS, TenantThrottlerGuard } from './rate-limit';
import { ADMIN_REDIS, GATEWAY_CONFIG, RATE_LIMIT_REDIS, REDIS } from './tokens';
import type { GatewayConfig } from './gateway-config';

@Module({})
export class AppModule implements OnApplicationShutdown {
  constructor(
    @Inject(SentimentProducer) private readonly producer: SentimentProducer,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(ADMIN_REDIS) private readonly adminRedis: Redis,
    @Optional() @Inject(RATE_LIMIT_REDIS) private readonly rateLimitRedis?: Redis,
  ) {}

  static forConfig(config: GatewayConfig, logger: LoggerParams): DynamicModule {
    const rateLimitRedis = config.rateLimitPerMinute > 0 ? connectRateLimitStore(config) : undefined;
    return {
      module: AppModule,
      imports: [
        LoggerModule.forRoot(logger),
        ...(rateLimitRedis
          ? [
              ThrottlerModule.forRoot({
                throttlers: [{ ttl: RATE_LIMIT_WINDOW_MS, limit: config.rateLimitPerMinute }],
                storage: new ThrottlerStorageRedisService(rateLimitRedis),
              }),
            ]
          : []),
        TerminusModule.forRoot({ errorLogStyle: 'pretty' }),
      ],
      controllers: [
        MetricsController,
        SentimentController,
        FeedbackController,
        ExamplesController,
        ModelsController,
        HealthController,
      ],
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        {
          provide: SentimentProducer,
          useFactory: async () => {
            const producer = new SentimentProducer({
              redis: config.redis,
              prefix: config.queuePrefix,
              maxTextChars: config.maxTextChars,
              maxBatchItems: config.maxBatchItems,
              maxQueueDepth: config.maxQueueDepth,
              retryAfterSeconds: config.retryAfterSeconds,
              retention: config.jobRetention,
              idClaimMaxEntries: config.idClaimMaxEntries,
              attempts: config.jobAttempts,
              telemetry: queueTelemetry(),
            });
            await producer.ready();
            return producer;
          },
        },
        {
          provide: REDIS,
          useFactory: () => {
            const redis = connectRedis(config.redis, { maxRetriesPerRequest: 3 });
            redis.on('error', () => undefined); // reported by the requests and readiness that need it
            return redis;
          },
        },
        {
          provide: FeedbackStore,
          inject: [REDIS],
          useFactory: (redis: Redis) => new FeedbackStore(redis, config.queuePrefix),
        },
        {
          provide: ExampleBuffer,
          inject: [REDIS],
          useFactory: (redis: Redis) =>
            new ExampleBuffer(redis, {
              prefix: config.queuePrefix,
              ttlSeconds: config.exampleTtlSeconds,
              maxPending: config.exampleMaxPending,
            }),
        },
        { provide: METRICS_REGISTRY, useValue: createAppRegistry('gateway') },
        GatewayMetrics,
        FeedbackService,
        {
          provide: ADMIN_REDIS,
          useFactory: () => {
            const redis = connectRedis(config.redis, { maxRetriesPerRequest: 3 });
            redis.on('error', () => undefined); // reported by the admin requests that need it
            return redis;
          },
        },
        {
          provide: ModelAdmin,
          inject: [ADMIN_REDIS],
          useFactory: (redis: Redis) =>
            new ModelAdmin(
              new AssignmentStore(redis, config.queuePrefix, {
                waitReplicas: config.redis.waitReplicas,
                waitTimeoutMs: config.redis.waitTimeoutMs,
              }),
              openModelRegistry(
                config.modelRegistry.startsWith('hf://')
                  ? config.modelRegistry
                  : resolve(config.modelRegistry),
                config.hub,
              ),
              { log: (line) => new Logger(ModelAdmin.name).warn(line) },
            ),
        },
        { provide: ApiKeys, useValue: new ApiKeys(config.apiKeys) },
        { provide: AdminApiKeys, useValue: new AdminApiKeys(config.adminApiKeys) },
        // In this order: the key guard names the tenant the rate limit counts for.
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        ...(rateLimitRedis
          ? [
              { provide: RATE_LIMIT_REDIS, useValue: rateLimitRedis },
              { provide: APP_GUARD, useClass: TenantThrottlerGuard },
            ]
          : []),
        { provide: APP_FILTER, useClass: ProblemFilter },
      ],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.producer.close();
    await this.redis.quit().catch(() => undefined);
    await this.adminRedis.quit().catch(() => undefined);
    await this.rateLimitRedis?.quit().catch(() => undefined);
  }
}

/** The rate limit's counters live next to the queue, under `<prefix>:rate-limit:`. */
function connectRateLimitStore(config: GatewayConfig): Redis {
  const redis = connectRedis(config.redis, {
    keyPrefix: `${config.queuePrefix}:rate-limit:`,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
  });
  redis.on('error', () => undefined); // a failed count fails its request, answered 503 by the problem filter
  return redis;
}
