import './instrument';
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { httpLogger, stopTracing } from '@reputation-monitor/observability';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { ConfigError, closeOnSignals, printEnvSchemaIfAsked } from '@reputation-monitor/config';
import { SentimentProducer } from '@reputation-monitor/producer-client';
import { mountQueueBoard } from './app/admin/queue-board';
import { AppModule } from './app/app.module';
import {
  AdminApiKeys,
  assertNotExposed,
  describeAccess,
  openHttpEdge,
  parseBodiesAfterKeys,
} from '@reputation-monitor/http-edge';
import { loadGatewayConfig, readGatewayConfig } from './app/gateway-config';
import { setupOpenApi } from './app/openapi';
import { GatewayMetrics } from './app/metrics/gateway-metrics';
import { httpMetrics } from './app/metrics/http-metrics';
import { SENTIMENT_ROUTES } from './app/sentiment/sentiment.controller';
import { refuseWhenQueueFull } from './app/sentiment/refuse-when-queue-full';
import { createValidationPipe } from './app/problem/validation-pipe';

async function bootstrap(): Promise<void> {
  printEnvSchemaIfAsked(readGatewayConfig);
  const config = loadGatewayConfig();
  assertNotExposed(config, config.host);
  const logger = new Logger('gateway');
  const requests = httpLogger('gateway', config.log);
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forConfig(config, requests.params), {
    bodyParser: false,
    bufferLogs: true,
  });
  openHttpEdge(app, requests.middleware, config.server);
  app.use(httpMetrics(app.get(GatewayMetrics), SENTIMENT_ROUTES));
  mountQueueBoard(app, app.get(SentimentProducer), app.get(AdminApiKeys));
  // Twice the item cap: a list a little too long gets a 422 naming the field, a huge one never reaches validation.
  parseBodiesAfterKeys(app, { limitBytes: config.maxBodyBytes, maxArrayItems: 2 * config.maxBatchItems });
  app.use(refuseWhenQueueFull(app.get(SentimentProducer), SENTIMENT_ROUTES));
  app.useGlobalPipes(createValidationPipe());
  closeOnSignals(app, config.shutdownTimeoutMs, stopTracing);
  setupOpenApi(app);
  await app.listen(config.port, config.host);
  const access = describeAccess(config);
  logger[access.level](access.message);
  logger.log(`listening on ${await app.getUrl()} (docs at /docs, queues at /admin/queues)`);
}

bootstrap().catch((error: Error) => {
  if (error instanceof ConfigError) console.error(error.message);
  // Straight to stderr: the app's logger buffers until the app exists, which it may never.
  else console.error(error.stack ?? error.message);
  process.exit(1);
});
