/**
 * `npm run eval:golden`: the golden-set evaluation of a model directory, as the retrain workflow runs it.
 * Starts an inference worker on the model and runs the drift monitor once (`--run-once`) with a golden set,
 * both on their own Redis key prefix, so the set goes through the real queue exactly as in production. Writes
 * the run report (JSON) and prints a Markdown summary; exits 1 when the set could not be measured or its
 * macro recall is below `--min-macro-recall`.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { APP_ENTRY, deletePrefix, startWorker, stopAll } from '@reputation-monitor/app-harness';
import { ConfigError, redisEnv, redisSettingsFromEnv } from '@reputation-monitor/config';
import { connectRedis, describeRedis } from '@reputation-monitor/redis-connection';
import { SENTIMENT_LABELS } from '@reputation-monitor/contracts';
import { judge, RunReportLike, summarize } from './summary';

const ROOT = resolve(__dirname, '../../..');

const USAGE = `usage: npm run eval:golden -- --golden <file.jsonl | texts.txt,labels.txt> [options]
  --model-dir <dir>         model directory (default models/twitter-roberta-base-sentiment-latest)
  --variant fp32|int8       graph to serve (default fp32)
  --limit <n>               first n examples (default 2000)
  --out <file>              report JSON (default reports/golden-eval.json)
  --min-macro-recall <x>    fail below this macro recall
  --redis <url>             Redis to use (default REDIS_URL or redis://127.0.0.1:6379; REDIS_SENTINELS and the
                            other REDIS_* variables are read as the apps read them); keys are removed after
  --skip-build              use dist/ as it is
GITHUB_STEP_SUMMARY, when set, gets the summary appended.`;

function fail(message: string): never {
  console.error(`[eval:golden] ${message}`);
  process.exit(1);
}

function options() {
  const { values } = parseArgs({
    options: {
      golden: { type: 'string' },
      'model-dir': { type: 'string', default: 'models/twitter-roberta-base-sentiment-latest' },
      variant: { type: 'string', default: 'fp32' },
      limit: { type: 'string', default: '2000' },
      out: { type: 'string', default: 'reports/golden-eval.json' },
      'min-macro-recall': { type: 'string' },
      redis: { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
      'skip-build': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (!values.golden) fail(`--golden is required\n${USAGE}`);
  if (values.variant !== 'fp32' && values.variant !== 'int8') fail('--variant must be fp32 or int8');
  const floor = values['min-macro-recall'];
  const minMacroRecall = floor === undefined ? undefined : Number(floor);
  if (minMacroRecall !== undefined && !(minMacroRecall >= 0 && minMacroRecall <= 1))
    fail(`--min-macro-recall must be a number in 0..1, got "${floor}"`);
  const goldenFiles = values.golden.split(',').map((file) => resolve(file));
  for (const file of goldenFiles) if (!existsSync(file)) fail(`golden set file ${file} does not exist`);
  const modelDir = resolve(values['model-dir']);
  if (!existsSync(modelDir))
    fail(`no model at ${modelDir} (npm run model:pull, or npm run model:synthetic for a trial)`);
  return {
    golden: goldenFiles.join(','),
    modelDir,
    variant: values.variant,
    limit: values.limit,
    out: resolve(values.out),
    minMacroRecall,
    redis: redisSettings(values.redis),
    build: !values['skip-build'],
  };
}

/** The apps' REDIS_* settings, with --redis as REDIS_URL. */
function redisSettings(url: string) {
  try {
    return redisSettingsFromEnv({ ...process.env, REDIS_URL: url });
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
}

/** The drift monitor's `--run-once`: the report is the only thing on its stdout. */
function runMonitorOnce(env: Record<string, string>): Promise<RunReportLike> {
  return new Promise((done, reject) => {
    execFile(
      process.execPath,
      [join(ROOT, APP_ENTRY.driftMonitor), '--run-once'],
      { env: { PATH: process.env.PATH, NO_COLOR: '1', ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        process.stderr.write(stderr.replace(/^(?=.)/gm, '[drift-monitor] '));
        if (error) return reject(new Error(`the drift monitor failed (${error.message.split('\n')[0]})`));
        try {
          done(JSON.parse(stdout) as RunReportLike);
        } catch {
          reject(new Error(`the drift monitor printed no report:\n${stdout.slice(0, 2_000)}`));
        }
      },
    );
  });
}

async function main(): Promise<void> {
  const opts = options();
  if (opts.build) {
    execFileSync(
      join(ROOT, 'node_modules/.bin/nx'),
      ['run-many', '-t', 'build', '-p', 'inference-worker', 'drift-monitor'],
      {
        cwd: ROOT,
        stdio: ['ignore', process.stderr, process.stderr],
        env: { ...process.env, NX_DAEMON: 'false' },
      },
    );
  }
  for (const entry of [APP_ENTRY.worker, APP_ENTRY.driftMonitor]) {
    if (!existsSync(join(ROOT, entry))) fail(`${entry} is missing: run without --skip-build`);
  }

  const prefix = `golden-eval-${randomBytes(4).toString('hex')}`;
  const redis = connectRedis(opts.redis, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis
    .connect()
    .catch((error: Error) => fail(`cannot reach Redis at ${describeRedis(opts.redis)}: ${error.message}`));
  let report: RunReportLike;
  try {
    console.error(
      `[eval:golden] starting a worker on ${opts.modelDir} (${opts.variant}), key prefix ${prefix}`,
    );
    await startWorker({
      workspaceRoot: ROOT,
      redisUrl: opts.redis.url,
      env: {
        ...redisEnv(opts.redis),
        QUEUE_PREFIX: prefix,
        MODEL_DIR: opts.modelDir,
        MODEL_VARIANT: opts.variant,
      },
    });
    report = await runMonitorOnce({
      ...redisEnv(opts.redis),
      QUEUE_PREFIX: prefix,
      SCHEDULE: 'off',
      // A measurement, not a deployment: nothing to export.
      DATASET_STORE: 'off',
      GOLDEN_SET_PATH: opts.golden,
      GOLDEN_SET_LIMIT: opts.limit,
    });
  } finally {
    await stopAll();
    await deletePrefix(redis, prefix);
    redis.disconnect();
  }

  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, JSON.stringify(report, null, 2) + '\n');
  const summary = summarize(report, SENTIMENT_LABELS);
  console.log(summary);
  console.log(`report: ${opts.out}`);
  if (process.env.GITHUB_STEP_SUMMARY) appendFileSync(process.env.GITHUB_STEP_SUMMARY, summary);
  const verdict = judge(report, opts.minMacroRecall);
  if (!verdict.ok) fail(verdict.problems.join('\n'));
}

main().catch((error: Error) => fail(error.message));
