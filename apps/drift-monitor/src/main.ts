import 'reflect-metadata';
import { ConsoleLogger, Logger, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { ConfigError, closeOnSignals, printEnvSchemaIfAsked } from '@reputation-monitor/config';
import { loadDriftConfig, readDriftConfig } from './app/drift-config';
import { DriftModule } from './app/drift.module';
import { DriftRunService } from './app/drift-run.service';
import { GoldenSetError } from '@reputation-monitor/dataset-store';
import { describeAccess, exposureProblem, jsonBody } from '@reputation-monitor/http-edge';

/** Largest request body: POST /v1/runs takes at most a window end. */
const MAX_BODY_BYTES = 16_384;

async function serve(): Promise<void> {
  const config = loadDriftConfig();
  const exposure = exposureProblem(config, config.host);
  if (exposure) throw new ConfigError([exposure]);
  const logger = new Logger('drift-monitor');
  const app = await NestFactory.create<NestExpressApplication>(DriftModule.forConfig(config, 'server'), {
    bodyParser: false,
  });
  app.disable('x-powered-by');
  app.use(jsonBody({ limitBytes: MAX_BODY_BYTES, maxArrayItems: 16 }));
  // A run in progress finishes before exit; the golden set bounds how long one can wait on the workers.
  closeOnSignals(app, Math.max(10_000, config.golden.timeoutMs + 5_000));
  await app.listen(config.port, config.host);
  const access = describeAccess(config);
  logger[access.level](access.message);
  logger.log(`listening on ${await app.getUrl()}`);
}

/** Logs to stderr, so stdout carries only the report JSON. */
class StderrLogger extends ConsoleLogger {
  protected override printMessages(
    messages: unknown[],
    context?: string,
    logLevel?: LogLevel,
    _stream?: 'stdout' | 'stderr',
    errorStack?: unknown,
  ): void {
    super.printMessages(messages, context, logLevel, 'stderr', errorStack);
  }
}

/** `main.js --run-once`: evaluates the window ending now, prints the report as JSON, exits 0 (1 on failure). */
async function runOnce(): Promise<void> {
  const config = loadDriftConfig();
  const app = await NestFactory.createApplicationContext(DriftModule.forConfig(config, 'once'), {
    logger: new StderrLogger(),
  });
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
  else new Logger('drift-monitor').error(error.message, error.stack);
  process.exit(1);
});
