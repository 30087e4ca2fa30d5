/**
 * `npm run bench:capacity`: the measured capacity model of docs/capacity.md (Throughput). For 1, 2, 4, 8
 * workers and single and batch requests, it starts a redis-server of its own, a gateway and the workers
 * on the tiny synthetic model (cheap inference, so Redis does a large share of the work), drives HTTP load
 * on loopback for a bounded time and measures what a job costs Redis (CPU time, commands, bytes, memory),
 * the gateway and the workers; then derives the jobs and texts one Redis serves at 70 % of a core and the
 * base-model worker cores that feeds. Writes JSON and Markdown to tmp/capacity/ and prints the Markdown.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { APP_ENTRY, stopAll } from '@reputation-monitor/app-harness';
import { capacityReport } from './capacity/report';
import { scriptNamesBySha } from './capacity/monitor-trace';
import { CAPACITY_USAGE, CapacityOptions, parseCapacityArgs } from './capacity/options';
import { failedStep, runStep, StepResult, stopLiveSteps } from './capacity/step';
import { describeMachine } from './machine';
import { UsageError } from './options';
import { readTexts } from './workload';

const ROOT = resolve(__dirname, '../../..');
const TWEETS = resolve(ROOT, '../shared/data/tweeteval/sentiment/test_text.txt');

const log = (message: string) =>
  console.log(`[capacity ${new Date().toISOString().slice(11, 19)}] ${message}`);

function ensureTinyModel(modelDir: string): void {
  if (existsSync(join(modelDir, 'config.json')) && existsSync(join(modelDir, 'onnx/model.onnx'))) return;
  log(`generating the tiny synthetic model into ${modelDir}`);
  execFileSync(
    join(ROOT, 'node_modules/.bin/tsx'),
    [join(ROOT, 'tools/synthetic-model/src/cli.ts'), '--preset', 'tiny', '--out', modelDir],
    { cwd: ROOT, stdio: 'inherit' },
  );
}

function buildApps(): void {
  log('building gateway and inference-worker (cached when unchanged; --skip-build to use dist/ as it is)');
  execFileSync(
    join(ROOT, 'node_modules/.bin/nx'),
    ['run-many', '-t', 'build', '-p', 'gateway', 'inference-worker'],
    { cwd: ROOT, stdio: 'inherit', env: { ...process.env, NX_DAEMON: 'false' } },
  );
}

/** BullMQ's Lua scripts by SHA1, so the MONITOR probe can name what each EVALSHA runs. */
function bullmqScripts(): Map<string, string> {
  try {
    const load = createRequire(join(ROOT, 'package.json'));
    const scripts = load('bullmq/dist/cjs/scripts') as Record<string, { name: string; content: string }>;
    return scriptNamesBySha(Object.values(scripts).filter((s) => s && typeof s.content === 'string'));
  } catch {
    return new Map();
  }
}

/** The commit, whether the tree had changes, and when the apps the steps run were built (others may rebuild them). */
function codeState(): { commit?: string; dirty?: boolean; builtAt: Record<string, string | undefined> } {
  const git = (...args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
    } catch {
      return undefined;
    }
  };
  const builtAt = (entry: string) => {
    try {
      return statSync(join(ROOT, entry)).mtime.toISOString();
    } catch {
      return undefined;
    }
  };
  const status = git('status', '--porcelain', '--untracked-files=no');
  return {
    commit: git('rev-parse', 'HEAD'),
    ...(status !== undefined && { dirty: status.length > 0 }),
    builtAt: { gateway: builtAt(APP_ENTRY.gateway), worker: builtAt(APP_ENTRY.worker) },
  };
}

function save(options: CapacityOptions, document: unknown, markdown?: string): void {
  mkdirSync(dirname(options.out), { recursive: true });
  writeFileSync(options.out, `${JSON.stringify(document, null, 2)}\n`);
  if (markdown !== undefined) writeFileSync(options.out.replace(/\.json$/, '') + '.md', `${markdown}\n`);
}

async function main(): Promise<void> {
  let options: CapacityOptions | 'help';
  try {
    options = parseCapacityArgs(process.argv.slice(2), { root: ROOT, now: new Date() });
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n\n${CAPACITY_USAGE}`);
    process.exit(2);
  }
  if (options === 'help') {
    console.log(CAPACITY_USAGE);
    return;
  }
  const stop = () => {
    log('interrupted: stopping the apps and the Redis of the step');
    void stopLiveSteps().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

  ensureTinyModel(options.modelDir);
  if (options.build) buildApps();
  const tweets = readTexts(TWEETS);
  const machine = describeMachine(ROOT);
  const redisVersion = execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim();
  const shaNames = bullmqScripts();
  log(
    `CPU: ${machine.cpuModel}, ${machine.cores} cores; ${redisVersion}; ${shaNames.size} BullMQ scripts known`,
  );
  log(
    `${options.steps.length} steps of ${options.seconds} s (+${options.warmupSeconds} s warm-up, ${options.idleSeconds} s quiet, ` +
      `${options.probeSeconds} s MONITOR) on ${relative(ROOT, options.modelDir)}; prefix "${options.prefix}", ` +
      `auth ${options.auth ? 'on' : 'off'}, result cache TTL ${options.cacheTtlSeconds}; results go to ${options.out}`,
  );

  const startedAt = new Date().toISOString();
  const code = codeState();
  const steps: StepResult[] = [];
  const document = () => ({
    startedAt,
    machine: { ...machine, redis: redisVersion, loadAverageNow: loadavg() },
    settings: { ...options, tweets: TWEETS },
    code,
    steps,
  });
  const started = performance.now();
  for (const spec of options.steps) {
    log(
      `${spec.mode}: ${spec.workers} worker(s), ${spec.clients} clients of ${spec.textsPerJob} text(s) per request`,
    );
    try {
      steps.push(await runStep({ root: ROOT, options, tweets, shaNames, log }, spec));
    } catch (error) {
      console.error((error as Error).stack ?? error);
      steps.push(failedStep(spec, error));
    }
    save(options, document()); // partial results survive a crash or Ctrl-C
  }

  const header =
    `## Capacity run of ${startedAt.slice(0, 16).replace('T', ' ')} UTC\n\n` +
    `${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}, ${redisVersion.split(' ').slice(0, 3).join(' ')}; ` +
    `model ${relative(ROOT, options.modelDir)}, ${options.threads} intra-op thread(s) per worker; ` +
    `${options.seconds} s per step; QUEUE_PREFIX "${options.prefix}"; auth ${options.auth ? 'on (API key, Redis rate limiter)' : 'off'}; ` +
    `RESULT_CACHE_TTL_SECONDS=${options.cacheTtlSeconds}. Load average at the end: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}.`;
  let markdown: string | undefined;
  try {
    const report = capacityReport(steps, options.budgetCores, header);
    markdown = report.markdown;
    save(
      options,
      { ...document(), capacities: report.capacities, finishedAt: new Date().toISOString() },
      markdown,
    );
    console.log(`\n${markdown}`);
  } catch (error) {
    save(options, document());
    console.error(`no derivation: ${(error as Error).message}`);
    process.exitCode = 1;
  }
  log(`done in ${((performance.now() - started) / 60_000).toFixed(1)} min; results in ${options.out}`);
}

main().catch(async (error: Error) => {
  console.error(error.stack ?? error.message);
  await stopLiveSteps();
  await stopAll();
  process.exit(1);
});
