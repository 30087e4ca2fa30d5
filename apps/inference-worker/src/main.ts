import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConfigError } from '@reputation-monitor/config';
import { WorkerModule } from './app/worker.module';
import { loadWorkerConfig } from './app/worker-config';

async function bootstrap(): Promise<void> {
  const config = loadWorkerConfig();
  // No HTTP API: an application context, plus the health port the module opens itself.
  const app = await NestFactory.createApplicationContext(WorkerModule.forConfig(config), { bufferLogs: false });
  app.enableShutdownHooks();
}

bootstrap().catch((error: Error) => {
  if (error instanceof ConfigError) console.error(error.message);
  else new Logger('inference-worker').error(error.message, error.stack);
  process.exit(1);
});
