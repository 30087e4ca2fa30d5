import './instrument';
import 'reflect-metadata';
import { Logger as PinoLogger } from 'nestjs-pino';
import { stopTracing } from '@reputation-monitor/observability';
import { NestFactory } from '@nestjs/core';
import { ConfigError, closeOnSignals, printEnvSchemaIfAsked } from '@reputation-monitor/config';
import { WorkerModule } from './app/worker.module';
import { loadWorkerConfig, readWorkerConfig } from './app/worker-config';

async function bootstrap(): Promise<void> {
  printEnvSchemaIfAsked(readWorkerConfig);
  const config = loadWorkerConfig();
  // No HTTP API: an application context, plus the health port the module opens itself.
  const app = await NestFactory.createApplicationContext(WorkerModule.forConfig(config), {
    bufferLogs: true,
  });
  app.useLogger(app.get(PinoLogger));
  closeOnSignals(app, config.shutdownTimeoutMs, stopTracing);
}

const MODEL_HELP = [
  'To get a model:',
  '  - the real one: export cardiffnlp/twitter-roberta-base-sentiment-latest to ONNX (optimum-cli export onnx',
  '    --model cardiffnlp/twitter-roberta-base-sentiment-latest --task text-classification <MODEL_DIR>), or copy the',
  '    Hub repo Xenova/twitter-roberta-base-sentiment-latest (onnx/, config.json, tokenizer files) into MODEL_DIR;',
  '  - a synthetic stand-in (random weights, real interface) for an offline trial:',
  '    npm run model:synthetic -- --preset tiny --out <MODEL_DIR>',
].join('\n');

bootstrap().catch((error: Error) => {
  if (error instanceof ConfigError) console.error(error.message);
  // Straight to stderr: the app's logger buffers until the app exists, which it may never.
  else console.error(error.stack ?? error.message);
  if (/model directory|ONNX graph|config\.json/.test(error.message)) console.error(MODEL_HELP);
  process.exit(1);
});
