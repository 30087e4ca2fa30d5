/**
 * `npm run soak -- [--minutes 5] [--singles 32] [--batches 4] [--batch-size 64] [--sample-seconds 10]
 *   [--index-max N] [--cache-max N] [--stream-max N] [--results-max N] [--model DIR] [--skip-build] [--budget-only]`
 *
 * Runs a gateway and an inference worker (the built apps, a synthetic tiny model) against a redis-server of
 * its own on a free loopback port, loads them from loopback for a bounded time with distinct texts (single
 * requests and batches), and prints Redis's used_memory over time, then what each key family holds and
 * costs per record, and the budget docs/capacity.md computes from the same settings. The settings default
 * to small bounds so the plateau comes within a few minutes; pass the production ones to size a Redis.
 * `--budget-only` prints the budget for the settings and the load's job mix, and starts nothing.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  RedisBudget,
  SoakSample,
  readTweetEval,
  redisMemoryBudget,
  runSoak,
} from '@reputation-monitor/app-harness';

const ROOT = resolve(__dirname, '../../..');
const LIMITS = { maxMinutes: 60, maxClients: 256 };

function fail(message: string): never {
  console.error(`soak: ${message}`);
  process.exit(2);
}

function readOptions() {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '5' },
      singles: { type: 'string', default: '32' },
      batches: { type: 'string', default: '4' },
      'batch-size': { type: 'string', default: '64' },
      'sample-seconds': { type: 'string', default: '10' },
      'index-max': { type: 'string', default: '50000' },
      'cache-max': { type: 'string', default: '20000' },
      'stream-max': { type: 'string', default: '50000' },
      'results-max': { type: 'string', default: '10000' },
      model: { type: 'string', default: join(ROOT, 'tmp/models/synthetic-tiny') },
      'skip-build': { type: 'boolean', default: false },
      'budget-only': { type: 'boolean', default: false },
    },
  });
  const number = (name: string, min: number, max: number) => {
    const parsed = Number(values[name as keyof typeof values]);
    if (!Number.isFinite(parsed) || parsed < min || parsed > max)
      fail(`--${name} must be a number in ${min}..${max}`);
    return parsed;
  };
  return {
    minutes: number('minutes', 0.1, LIMITS.maxMinutes),
    singles: Math.round(number('singles', 0, LIMITS.maxClients)),
    batches: Math.round(number('batches', 0, LIMITS.maxClients)),
    batchSize: Math.round(number('batch-size', 2, 256)),
    sampleSeconds: number('sample-seconds', 1, 600),
    indexMax: Math.round(number('index-max', 1_000, 1e9)),
    cacheMax: Math.round(number('cache-max', 1_000, 1e9)),
    streamMax: Math.round(number('stream-max', 1_000, 1e9)),
    resultsMax: Math.round(number('results-max', 1, 1e8)),
    model: resolve(values.model as string),
    skipBuild: values['skip-build'] as boolean,
    budgetOnly: values['budget-only'] as boolean,
  };
}

const mb = (bytes: number) => (bytes / 1_048_576).toFixed(1).padStart(8);
const count = (n: number) => String(n).padStart(9);

async function main(): Promise<void> {
  const options = readOptions();
  if (options.singles + options.batches === 0)
    fail('--singles and --batches are both 0: nothing would be sent');
  const settings = {
    PREDICTION_INDEX_MAX_ENTRIES: String(options.indexMax),
    RESULT_CACHE_MAX_ENTRIES: String(options.cacheMax),
    PREDICTION_STREAM_MAXLEN: String(options.streamMax),
  };
  const gatewaySettings = { RESULT_MAX_COUNT: String(options.resultsMax) };
  const texts = readTweetEval('test').map((tweet) => tweet.text);
  const textBytes = texts.reduce((sum, text) => sum + Buffer.byteLength(text), 0) / texts.length + 7; // " #12345"
  const clients = options.singles + options.batches;
  /** The budget of docs/capacity.md for these settings, with jobs of `textsPerJob` texts on average. */
  const budgetFor = (textsPerJob: number) =>
    redisMemoryBudget(
      {
        resultMaxCount: options.resultsMax,
        predictionStreamMaxLen: options.streamMax,
        predictionIndexMaxEntries: options.indexMax,
        resultCacheMaxEntries: options.cacheMax,
        inFlightJobs: clients,
      },
      { textsPerJob, largestJobTexts: options.batches > 0 ? options.batchSize : 1, textBytes },
    );
  const describe = (budget: RedisBudget) =>
    `${mb(budget.total).trim()} MB = ` +
    budget.families
      .filter((family) => family.bytes > 0)
      .map((family) => `${family.family} ${mb(family.bytes).trim()}`)
      .join(' + ');
  // Before the run the mix is a guess (each client's share); the end prints it for the jobs as served.
  const guess = budgetFor((options.singles + options.batches * options.batchSize) / clients);
  console.log(
    `soak: ${options.minutes} min, ${options.singles} clients of single texts + ${options.batches} of ${options.batchSize}-text batches, ` +
      `every text distinct\nsettings: ${Object.entries({ ...settings, ...gatewaySettings })
        .map(([name, value]) => `${name}=${value}`)
        .join(' ')}\nbudget (docs/capacity.md, one job per client in turn): ${describe(guess)}`,
  );
  if (options.budgetOnly) return;
  if (!existsSync(join(options.model, 'config.json'))) {
    console.log(`generating the synthetic tiny model in ${options.model}`);
    execFileSync(
      join(ROOT, 'node_modules/.bin/tsx'),
      [join(ROOT, 'tools/synthetic-model/src/cli.ts'), '--preset', 'tiny', '--out', options.model],
      { cwd: ROOT, stdio: 'inherit' },
    );
  }
  if (!options.skipBuild) {
    console.log('building gateway and inference-worker (cached when unchanged)');
    execFileSync(
      join(ROOT, 'node_modules/.bin/nx'),
      ['run-many', '-t', 'build', '-p', 'gateway', 'inference-worker'],
      { cwd: ROOT, stdio: 'inherit', env: { ...process.env, NX_DAEMON: 'false' } },
    );
  }
  console.log(
    `\n${'t (s)'.padStart(7)}${'used MB'.padStart(9)}${'texts'.padStart(10)}${'texts/s'.padStart(9)}` +
      `${'index'.padStart(9)}${'cache'.padStart(9)}${'stream'.padStart(9)}${'jobs'.padStart(9)}${'events'.padStart(9)}`,
  );
  let previous: SoakSample | undefined;
  const result = await runSoak({
    workspaceRoot: ROOT,
    modelDir: options.model,
    durationMs: options.minutes * 60_000,
    sampleMs: options.sampleSeconds * 1000,
    singles: options.singles,
    batches: options.batches,
    batchSize: options.batchSize,
    texts,
    workerEnv: settings,
    gatewayEnv: gatewaySettings,
    onSample: (sample) => {
      const rate = previous ? (sample.texts - previous.texts) / (sample.seconds - previous.seconds || 1) : 0;
      previous = sample;
      console.log(
        `${sample.seconds.toFixed(0).padStart(7)}${mb(sample.usedMemory).padStart(9)}${count(sample.texts).padStart(10)}` +
          `${rate.toFixed(0).padStart(9)}${count(sample.indexEntries)}${count(sample.cacheEntries)}` +
          `${count(sample.streamEntries)}${count(sample.completedJobs)}${count(sample.eventsEntries)}`,
      );
    },
  });
  const { footprint } = result;
  // Texts per job as Redis kept them at the end (what the kept results and events hold).
  const served = footprint.jobs.textsPerJob || result.texts / Math.max(1, result.statuses['200'] ?? 0);
  const peak = Math.max(...result.samples.map((sample) => sample.usedMemory));
  console.log(
    `\n${result.texts} texts in ${result.seconds.toFixed(0)} s (${(result.texts / result.seconds).toFixed(0)}/s); ` +
      `requests by status: ${JSON.stringify(result.statuses)}\nused_memory: ${mb(result.baselineMemory).trim()} MB before the load, ` +
      `${mb(peak).trim()} MB at most, ${mb(footprint.usedMemory).trim()} MB at the end\n` +
      `budget for the jobs as served (${served.toFixed(2)} texts each): ${describe(budgetFor(served))}`,
  );
  console.log(
    `\n${'key family'.padEnd(22)}${'keys'.padStart(9)}${'entries'.padStart(10)}${'MB'.padStart(9)}${'B/entry'.padStart(9)}`,
  );
  for (const family of footprint.families) {
    const per = family.entries > 0 ? (family.bytes / family.entries).toFixed(0) : '';
    console.log(
      `${family.family.padEnd(22)}${count(family.keys)}${String(family.entries).padStart(10)}${mb(family.bytes).padStart(9)}${per.padStart(9)}`,
    );
  }
  const { jobs: sizes } = footprint;
  console.log(
    `\njob hash (MEMORY USAGE, ${sizes.sampled} sampled): ${sizes.perJob} B + ${sizes.perText} B per text ` +
      `(texts here average ${sizes.textBytes} B of UTF-8)`,
  );
  if ((result.statuses['0'] ?? 0) > 0) process.exitCode = 1;
}

main().catch((error: Error) => fail(error.stack ?? error.message));
