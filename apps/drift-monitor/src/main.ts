import './instrument';
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { Logger as PinoLogger } from 'nestjs-pino';
import { httpLogger, stopTracing } from '@reputation-monitor/observability';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { ConfigError, closeOnSignals, printEnvSchemaIfAsked } from '@reputation-monitor/config';
import { loadDriftConfig, readDriftConfig } from './app/drift-config';
import { DriftModule } from './app/drift.module';
import { DriftRunService } from './app/drift-run.service';
import { GoldenSetError } from '@reputation-monitor/dataset-store';
import {
  assertNotExposed,
  describeAccess,
  openHttpEdge,
  parseBodiesAfterKeys,
} from '@reputation-monitor/http-edge';

/** Largest request body: POST /v1/runs takes at most a window end. */
const MAX_BODY_BYTES = 16_384;

async function serve(): Promise<void> {
  const config = loadDriftConfig();
  assertNotExposed(config, config.host);
  const logger = new Logger('drift-monitor');
  const requests = httpLogger('drift-monitor', config.log);
  const app = await NestFactory.create<NestExpressApplication>(
    DriftModule.forConfig(config, 'server', requests.params),
    { bodyParser: false, bufferLogs: true },
  );
  openHttpEdge(app, requests.middleware, config.server);
  parseBodiesAfterKeys(app, { limitBytes: MAX_BODY_BYTES, maxArrayItems: 16 });
  // A run in progress finishes before exit; the golden set bounds how long one can wait on the workers.
  closeOnSignals(app, Math.max(10_000, config.golden.timeoutMs + 5_000), stopTracing);
  await app.listen(config.port, config.host);
  const access = describeAccess(config);
  logger[access.level](access.message);
  logger.log(`listening on ${await app.getUrl()}`);
}

/** `main.js --run-once`: evaluates the window ending now, prints the report as JSON, exits 0 (1 on failure). */
async function runOnce(): Promise<void> {
  const config = loadDriftConfig();
  // Logs go to stderr (forConfig's one-shot logger), so stdout carries only the report JSON.
  const app = await NestFactory.createApplicationContext(DriftModule.forConfig(config, 'once'), {
    bufferLogs: true,
  });
  app.useLogger(app.get(PinoLogger));
  try {
    const report = await app.get(DriftRunService).run({ triggeredBy: 'cli' });
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  } finally {
    await app.close();
  }
}

async function bootstrap(): Promise<void> {
  printEnvSchemaIfAsked(readDriftConfig);
  if (process.argv.includes('--run-once')) {
    await runOnce();
    process.exit(0);
  }
  await serve();
}

bootstrap().catch((error: Error) => {
  if (error instanceof ConfigError || error instanceof GoldenSetError) console.error(error.message);
  // Straight to stderr: the app's logger buffers until the app exists, which it may never.
  else console.error(error.stack ?? error.message);
  process.exit(1);
});
