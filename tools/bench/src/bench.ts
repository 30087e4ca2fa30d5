/**
 * `npm run bench`: the whole performance table in one run, side by side, on the same TweetEval test
 * tweets and the same model directory (see README, Benchmarks, and `npm run bench -- --help`):
 * raw ONNX Runtime ceiling, the full HTTP path, the producer path, the transformers.js pipeline, the
 * seed's one-run-per-request way, idle latency, overload and the duplicate-result cache, in fp32 and
 * int8. Writes every figure to a JSON file and prints Markdown tables. Traffic stays on 127.0.0.1 and
 * every load is bounded in count or time.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import IORedis from 'ioredis';
import { stopAll } from '@reputation-monitor/app-harness';
import { CpuPinning, cpusOf, formatCpuList, pinProcess, planPinning } from './cpu-pinning';
import { collectedProfiles, profileMarkdown } from './cpu-profile';
import { describeMachine } from './machine';
import { describeInt8Graph, ensureInt8, ensureModel, Int8Availability } from './model-files';
import { BenchOptions, parseBenchArgs, SCENARIOS, usage, UsageError } from './options';
import { evaluateChecks, formatNumber, markdownReport } from './report';
import { BenchResults, failed, Measurement, skipped } from './results';
import { medianChecks, medianMeasurements } from './rounds';
import { RUNNERS, ScenarioContext } from './scenarios';
import { redisPid, stopActiveStacks } from './stack';
import { readTexts } from './workload';

const ROOT = resolve(__dirname, '../../..');
const TWEETS = resolve(ROOT, '../shared/data/tweeteval/sentiment/test_text.txt');
/** Scenarios that need no built apps and no Redis. */
const IN_PROCESS = new Set(['raw', 'cost', 'weights', 'seed', 'peer', 'tokenizer']);

const log = (message: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

function buildApps(): void {
  log('building gateway and inference-worker (cached when unchanged; --skip-build to use dist/ as it is)');
  execFileSync(
    join(ROOT, 'node_modules/.bin/nx'),
    ['run-many', '-t', 'build', '-p', 'gateway', 'inference-worker'],
    {
      cwd: ROOT,
      stdio: 'inherit',
      env: { ...process.env, NX_DAEMON: 'false' },
    },
  );
}

async function assertRedis(url: string): Promise<void> {
  const redis = new IORedis(url, { maxRetriesPerRequest: 1, lazyConnect: true, connectTimeout: 3000 });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new Error(
      `Redis does not answer at ${url} (${(error as Error).message}); start one or pass --redis-url`,
    );
  } finally {
    redis.disconnect();
  }
}

/**
 * `--model-cpus`: the benchmark itself (the load generator, and the gateway it starts) moves to the other CPUs,
 * and so does Redis when it runs on this machine; what Redis was allowed before is put back afterwards.
 */
async function pinAroundModel(
  pinning: CpuPinning,
  redisUrl: string | undefined,
): Promise<() => Promise<void>> {
  await pinProcess(process.pid, pinning.rest);
  log(
    `--model-cpus: the worker and the model runs on CPU ${pinning.model}; the benchmark and the gateway on ${pinning.rest}`,
  );
  if (redisUrl === undefined) return async () => undefined;
  const host = new URL(redisUrl).hostname;
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host)) {
    log(`Redis at ${host} is not on this machine: left where it is`);
    return async () => undefined;
  }
  const redis = new IORedis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    const pid = await redisPid(redis);
    if (pid === undefined) throw new Error('it did not tell its process id');
    const before = formatCpuList(cpusOf(pid));
    await pinProcess(pid, pinning.rest);
    log(`Redis (pid ${pid}) moved from CPU ${before} to ${pinning.rest} for the run`);
    return () =>
      pinProcess(pid, before).then(
        () => log(`Redis (pid ${pid}) back on CPU ${before}`),
        (error: Error) => log(`Redis (pid ${pid}) could not be put back on CPU ${before}: ${error.message}`),
      );
  } catch (error) {
    log(`Redis left where it is: ${(error as Error).message.split('\n')[0]}`);
    return async () => undefined;
  } finally {
    redis.disconnect();
  }
}

function oneLine(m: Measurement): string {
  if (m.status !== 'ok') return `  ${m.id}: ${m.status} (${m.note})`;
  const latency = m.latencyMs
    ? `, p50 ${formatNumber(m.latencyMs.p50)} ms, p99 ${formatNumber(m.latencyMs.p99)} ms`
    : '';
  return `  ${m.id}: ${formatNumber(m.textsPerSecond)} texts/s, ${formatNumber(m.tokensPerSecond)} tokens/s${latency}${m.note ? ` — ${m.note}` : ''}`;
}

function save(file: string, results: BenchResults): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
}

/** One pass over the selected runs; prints each row (and profile) as it comes. */
async function runRound(
  options: BenchOptions,
  context: ScenarioContext,
  int8: Int8Availability | undefined,
  results: BenchResults,
): Promise<Measurement[]> {
  const measurements: Measurement[] = [];
  for (const { scenario, variant } of options.runs) {
    const what = SCENARIOS.find((s) => s.key === scenario)?.what ?? scenario;
    const base = { id: `${scenario}:${variant}`, scenario, variant, label: what };
    let rows: Measurement[];
    // The weights scenario quantizes the fp32 graph itself; the other int8 rows need the directory's int8 graph.
    if (variant === 'int8' && scenario !== 'weights' && !int8?.available) {
      rows = [skipped(base, `no int8 graph: ${int8?.note ?? 'not checked'}`)];
    } else {
      log(`${scenario} (${variant}): ${what}`);
      try {
        rows = await RUNNERS[scenario](context, variant);
      } catch (error) {
        rows = [failed(base, error)];
        console.error((error as Error).stack ?? error);
      }
    }
    for (const row of rows) console.log(oneLine(row));
    measurements.push(...rows);
    const profiles = collectedProfiles.splice(0);
    if (profiles.length > 0) {
      for (const profile of profiles) console.log(`\n${profileMarkdown(profile)}\n`);
      (results.profiles ??= []).push(...profiles);
    }
  }
  return measurements;
}

async function run(options: BenchOptions, pinning: CpuPinning | undefined): Promise<BenchResults> {
  ensureModel(ROOT, options.modelDir, log);
  const int8: Int8Availability | undefined = options.runs.some((r) => r.variant === 'int8')
    ? ensureInt8(ROOT, options.modelDir, log)
    : undefined;
  if (int8 && !int8.available) log(`int8 rows will be skipped: ${int8.note}`);
  const needsStack = options.runs.some(
    (r) => !IN_PROCESS.has(r.scenario) && (r.variant === 'fp32' || int8?.available),
  );
  if (needsStack) {
    await assertRedis(options.redisUrl);
    if (options.build) buildApps();
  }
  if (pinning) unpin = await pinAroundModel(pinning, needsStack ? options.redisUrl : undefined);

  const tweets = readTexts(TWEETS);
  const context: ScenarioContext = { root: ROOT, options, tweets, log, pinning };
  const machine = describeMachine(ROOT);
  log(
    `CPU: ${machine.cpuModel}, ${machine.cores} cores; flags ${machine.cpuFlags?.join(' ') ?? 'unknown'}; ` +
      `int8 dot product: ${machine.int8DotProduct?.join(', ') || 'none'} (${machine.cpuFlagsSource})`,
  );
  const int8Graph = int8?.available ? await describeInt8Graph(options.modelDir) : undefined;
  if (int8Graph) log(`the directory's int8 graph: ${int8Graph}`);
  const results: BenchResults = {
    startedAt: new Date().toISOString(),
    machine,
    settings: {
      ...options,
      runs: options.runs.map((r) => `${r.scenario}:${r.variant}`),
      tweets: TWEETS,
      ...(int8Graph && { int8Graph }),
      ...(pinning && { pinning }),
    },
    measurements: [],
    checks: [],
  };
  log(
    `${options.runs.length} runs on ${options.modelDir}: ${options.texts} texts per throughput scenario, ` +
      `${options.slowTexts} one at a time, ${options.threads} intra-op threads; results go to ${options.out}`,
  );

  const rounds: Measurement[][] = [];
  for (let round = 1; round <= options.rounds; round++) {
    if (options.rounds > 1) log(`round ${round} of ${options.rounds}`);
    const rows = await runRound(options, context, int8, results);
    const tagged = options.rounds > 1 ? rows.map((row) => ({ ...row, round })) : rows;
    rounds.push(tagged);
    results.measurements.push(...tagged);
    save(options.out, results); // partial results survive a crash or Ctrl-C
  }

  if (options.rounds > 1) {
    results.medians = medianMeasurements(rounds);
    results.checks = medianChecks(rounds.map((rows) => evaluateChecks(rows)));
  } else {
    results.checks = evaluateChecks(results.measurements);
  }
  results.machine.loadAverageAtEnd = loadavg();
  results.finishedAt = new Date().toISOString();
  save(options.out, results);
  return results;
}

/** Puts back what `--model-cpus` moved (Redis), at the end or on an interruption. */
let unpin = async (): Promise<void> => undefined;

async function main(): Promise<void> {
  let options: BenchOptions | 'help';
  let pinning: CpuPinning | undefined;
  try {
    options = parseBenchArgs(process.argv.slice(2), { root: ROOT, now: new Date(), env: process.env });
    if (options !== 'help' && options.modelCpus) pinning = planPinning(options.modelCpus, cpusOf());
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n\n${usage()}`);
    process.exit(2);
  }
  if (options === 'help') {
    console.log(usage());
    return;
  }
  const stop = () => {
    log('interrupted: stopping the apps and removing their keys');
    void stopActiveStacks()
      .then(() => unpin())
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

  const started = performance.now();
  const results = await run(options, pinning).finally(() => unpin());
  console.log(`\n${markdownReport(results)}`);
  log(`done in ${((performance.now() - started) / 60_000).toFixed(1)} min; results in ${options.out}`);
}

main().catch(async (error: Error) => {
  console.error(error.stack ?? error.message);
  await stopActiveStacks();
  await stopAll();
  process.exit(1);
});
