import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { ConfigError, closeOnSignals, printEnvSchemaIfAsked } from '@reputation-monitor/config';
import { SentimentProducer } from '@reputation-monitor/producer-client';
import { mountQueueBoard } from './app/admin/queue-board';
import { AppModule } from './app/app.module';
import { ApiKeys } from '@reputation-monitor/http-edge';
import { loadGatewayConfig, readGatewayConfig } from './app/gateway-config';
import { setupOpenApi } from './app/openapi';
import { GatewayMetrics } from './app/metrics/gateway-metrics';
import { httpMetrics } from './app/metrics/http-metrics';
import { jsonBody } from './app/problem/json-body';
import { SENTIMENT_ROUTES } from './app/sentiment/sentiment.controller';
import { createValidationPipe } from './app/problem/validation-pipe';

async function bootstrap(): Promise<void> {
  printEnvSchemaIfAsked(readGatewayConfig);
  const config = loadGatewayConfig();
  const logger = new Logger('gateway');
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forConfig(config), {
    bodyParser: false,
  });
  app.disable('x-powered-by');
  app.use(httpMetrics(app.get(GatewayMetrics), SENTIMENT_ROUTES));
  mountQueueBoard(app, app.get(SentimentProducer), app.get(ApiKeys));
  app.use(jsonBody(config.maxBodyBytes));
  app.useGlobalPipes(createValidationPipe());
  closeOnSignals(app, 10_000);
  setupOpenApi(app);
  await app.listen(config.port, config.host);
  if (config.apiKeys.length === 0) {
    logger.warn('API_KEYS is not set: /v1 is open to anyone who can reach this port');
  } else {
    logger.log(`API keys required on /v1 (${config.apiKeys.length} configured)`);
  }
  logger.log(`listening on ${await app.getUrl()} (docs at /docs, queues at /admin/queues)`);
}

bootstrap().catch((error: Error) => {
  if (error instanceof ConfigError) console.error(error.message);
  else new Logger('gateway').error(error.message, error.stack);
  process.exit(1);
});
