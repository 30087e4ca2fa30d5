/** Command line of `npm run bench`: sizes, the scenarios to run, where to write. Pure, so it is tested. */
import { isAbsolute, resolve } from 'node:path';
import { parseArgs, ParseArgsConfig } from 'node:util';
import { parseCpuList } from './cpu-pinning';
import type { Variant } from './results';
import { UsageError } from './usage-error';

export const USAGE = `Usage: npm run bench -- [options]

  --quick                 a smoke run: few texts per scenario (about 5 minutes)
  --texts N               texts per throughput scenario (default 1200; --quick 160)
  --slow-texts N          texts for the one-at-a-time scenarios: seed's way, transformers.js single (default 300; --quick 40)
  --idle N                idle single requests (default 60; --quick 15)
  --sparse N              sparse single requests, one after a pause (default 20; --quick 5)
  --sparse-gap-ms MS      the pause before each sparse request and each model run beside them (default 1000)
  --only LIST             comma-separated scenarios, groups or variants to run (union), e.g. raw,full or int8
  --variant fp32|int8|all which model variants (default all)
  --model-dir DIR         model directory (default models/synthetic-base, generated when missing)
  --threads N             ONNX Runtime intra-op threads everywhere (default 2; with --model-cpus, their count)
  --model-cpus LIST       the model on CPUs of its own (Linux, taskset): the worker and the in-process model runs on
                          LIST (e.g. 0 or 0-1), the benchmark's clients, the gateway and a local Redis on the rest
  --batch-size N          texts per batch request (default 64)   --batch-clients N (default 4)
  --single-clients N      concurrent single-request clients (default 32)
  --peer-batch-size N     texts per transformers.js batch call (default 32)
  --overload-clients N    (default 256)  --overload-seconds N (default 20; --quick 6)  --overload-depth N (default 8)
  --duplicates R          share of repeated tweets in the cache workload (default 0.3)
  --seed N                seed of the workload shuffles (default 42)
  --rounds N              run the selection N times, round after round; every comparison is computed within
                          each round and reported from the round with its median value (default 1; use an odd N)
  --out FILE              results JSON (default tmp/bench/results-<date>.json)
  --skip-build            do not build the gateway and the worker first
  --worker-env K=V,...    extra environment for every worker the benchmark starts (A/B of a setting,
  --gateway-env K=V,...   e.g. --worker-env INTRA_OP_SPINNING=true); scenario settings win over these
  --profile               CPU-profile the gateway's and the worker's main threads while each served scenario
                          is measured (V8 profiler, started and stopped by SIGUSR2): writes .cpuprofile files
                          beside the results and prints the top functions by self time (the profiler costs CPU:
                          do not compare the figures of a profiled run with an unprofiled one)
  --redis-url URL         (default $REDIS_URL or redis://127.0.0.1:6379)

Scenarios (each runs on the variants named):`;

export interface ScenarioSpec {
  key: string;
  variants: readonly Variant[];
  what: string;
}

/** Every scenario, in the order they run (in-process ones first, then those that start the apps). */
export const SCENARIOS: readonly ScenarioSpec[] = [
  { key: 'raw', variants: ['fp32', 'int8'], what: 'raw ONNX Runtime on length-sorted batches (the ceiling)' },
  {
    key: 'cost',
    variants: ['fp32', 'int8'],
    what: "one run's time by batch size and padded length (the packing policy's cost model)",
  },
  {
    key: 'weights',
    variants: ['int8'],
    what: 'the int8 graph with int8 vs uint8 weights, batch by batch on the same texts',
  },
  {
    key: 'tokenizer',
    variants: ['fp32'],
    what: 'the tokenizer alone: the library on whole texts vs the piece cache (the same for both graphs)',
  },
  { key: 'seed', variants: ['fp32', 'int8'], what: "the seed's way: one ONNX Runtime run per text" },
  {
    key: 'peer',
    variants: ['fp32', 'int8'],
    what: 'transformers.js pipeline, one at a time and batch calls',
  },
  { key: 'idle', variants: ['fp32'], what: 'idle single requests over HTTP vs the batch-of-one latency' },
  {
    key: 'sparse',
    variants: ['fp32'],
    what: 'single requests a pause apart (a quiet system) vs the batch of one a pause apart',
  },
  {
    key: 'full-batch',
    variants: ['fp32', 'int8'],
    what: "HTTP batch requests from concurrent clients, then raw on the worker's lanes once more",
  },
  { key: 'full-single', variants: ['fp32'], what: 'HTTP single requests from concurrent clients' },
  { key: 'producer-batch', variants: ['fp32'], what: 'producer client batches, no HTTP' },
  { key: 'producer-single', variants: ['fp32'], what: 'producer client single texts, no HTTP' },
  { key: 'overload', variants: ['fp32'], what: 'more clients than capacity, small MAX_QUEUE_DEPTH' },
  { key: 'cache', variants: ['fp32'], what: '30 % duplicates, result cache off vs on' },
  { key: 'shadow', variants: ['fp32'], what: 'a candidate shadowing every text vs production alone' },
  {
    key: 'tracing',
    variants: ['fp32'],
    what: 'no OTLP endpoint vs every span exported to a loopback collector',
  },
];

export interface Run {
  scenario: string;
  variant: Variant;
}

export interface BenchOptions {
  quick: boolean;
  modelDir: string;
  texts: number;
  slowTexts: number;
  idleRequests: number;
  sparseRequests: number;
  sparseGapMs: number;
  threads: number;
  rawBatchSizes: number[];
  batchSize: number;
  batchClients: number;
  singleClients: number;
  peerBatchSize: number;
  overloadClients: number;
  overloadSeconds: number;
  overloadDepth: number;
  duplicateShare: number;
  seed: number;
  runs: Run[];
  /** `--rounds`: how many times the runs are repeated (medians reported). */
  rounds: number;
  out: string;
  build: boolean;
  redisUrl: string;
  /** Where `--profile` writes CPU profiles (undefined: no profiling). */
  profileDir?: string;
  /** `--model-cpus`: the CPUs for the worker and the model runs (absent: no pinning). */
  modelCpus?: number[];
  /** `--worker-env` / `--gateway-env`: extra environment for the apps the benchmark starts. */
  workerEnv: Record<string, string>;
  gatewayEnv: Record<string, string>;
}

export { UsageError } from './usage-error';

export function usage(): string {
  return (
    USAGE + SCENARIOS.map((s) => `\n  ${s.key.padEnd(16)} ${s.what} (${s.variants.join(', ')})`).join('')
  );
}

/** The runs `--only` and `--variant` select, in execution order: fp32 runs first, then int8. */
export function selectRuns(only: readonly string[] | undefined, variant: string): Run[] {
  if (!['fp32', 'int8', 'all'].includes(variant))
    throw new UsageError(`--variant must be fp32, int8 or all, got "${variant}"`);
  const all: Run[] = (['fp32', 'int8'] as const).flatMap((v) =>
    SCENARIOS.filter((s) => s.variants.includes(v)).map((s) => ({ scenario: s.key, variant: v })),
  );
  const tokens = (only ?? []).map((token) => token.trim()).filter(Boolean);
  for (const token of tokens) {
    if (!all.some((run) => matches(run, token)))
      throw new UsageError(
        `--only: unknown scenario "${token}" (known: ${SCENARIOS.map((s) => s.key).join(', ')}, groups full and producer, fp32, int8, or scenario:variant)`,
      );
  }
  return all.filter(
    (run) =>
      (variant === 'all' || run.variant === variant) &&
      (tokens.length === 0 || tokens.some((token) => matches(run, token))),
  );
}

/** `raw`, `full` (every full-*), `int8` (every int8 run) and `raw:int8` all name runs. */
function matches(run: Run, token: string): boolean {
  const [name, variant] = token.split(':');
  if (variant !== undefined && variant !== run.variant) return false;
  if (name === run.variant && variant === undefined) return true;
  return name === run.scenario || name === run.scenario.split('-')[0];
}

/**
 * An integer option, `fallback` when absent; `max` bounds it when given. The benchmarks' command lines share it
 * (`npm run bench`, `npm run bench:capacity`).
 */
export function intOption(
  name: string,
  raw: string | undefined,
  fallback: number,
  min = 1,
  max = Infinity,
): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    const range = Number.isFinite(max) ? `${min}-${max}` : `>= ${min}`;
    throw new UsageError(`--${name} must be an integer ${range}, got "${raw}"`);
  }
  return value;
}

/** node:util's parseArgs, strict, with its errors as UsageErrors (printed with the usage). */
export function parseOptions<T extends ParseArgsConfig['options']>(argv: readonly string[], options: T) {
  try {
    return parseArgs({ args: [...argv], strict: true, allowPositionals: false, options }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function parseBenchArgs(
  argv: readonly string[],
  context: { root: string; now: Date; env: Record<string, string | undefined> },
): BenchOptions | 'help' {
  const values = parseOptions(argv, {
    help: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    texts: { type: 'string' },
    'slow-texts': { type: 'string' },
    idle: { type: 'string' },
    sparse: { type: 'string' },
    'sparse-gap-ms': { type: 'string' },
    only: { type: 'string' },
    variant: { type: 'string', default: 'all' },
    'model-dir': { type: 'string', default: 'models/synthetic-base' },
    threads: { type: 'string' },
    'model-cpus': { type: 'string' },
    'batch-size': { type: 'string' },
    'batch-clients': { type: 'string' },
    'single-clients': { type: 'string' },
    'peer-batch-size': { type: 'string' },
    'overload-clients': { type: 'string' },
    'overload-seconds': { type: 'string' },
    'overload-depth': { type: 'string' },
    duplicates: { type: 'string' },
    seed: { type: 'string' },
    rounds: { type: 'string' },
    out: { type: 'string' },
    'skip-build': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'worker-env': { type: 'string' },
    'gateway-env': { type: 'string' },
    'redis-url': { type: 'string' },
  });
  if (values.help) return 'help';
  const quick = values.quick;
  const duplicateShare = values.duplicates === undefined ? 0.3 : Number(values.duplicates);
  if (!(duplicateShare >= 0 && duplicateShare < 1))
    throw new UsageError(`--duplicates must be a share from 0 to below 1, got "${values.duplicates}"`);
  const texts = intOption('texts', values.texts, quick ? 160 : 1200);
  const stamp = context.now.toISOString().replace(/[:.]/g, '-');
  const out = values.out ?? `tmp/bench/results-${stamp}.json`;
  const absoluteOut = isAbsolute(out) ? out : resolve(context.root, out);
  const modelDir = values['model-dir'];
  const modelCpus = values['model-cpus'] === undefined ? undefined : parseCpuList(values['model-cpus']);
  return {
    quick,
    modelDir: isAbsolute(modelDir) ? modelDir : resolve(context.root, modelDir),
    texts,
    slowTexts: Math.min(texts, intOption('slow-texts', values['slow-texts'], quick ? 40 : 300)),
    idleRequests: intOption('idle', values.idle, quick ? 15 : 60),
    sparseRequests: intOption('sparse', values.sparse, quick ? 5 : 20),
    sparseGapMs: intOption('sparse-gap-ms', values['sparse-gap-ms'], 1000, 1, 60_000),
    threads: intOption('threads', values.threads, modelCpus?.length ?? 2),
    ...(modelCpus && { modelCpus }),
    rawBatchSizes: [16, 32],
    batchSize: intOption('batch-size', values['batch-size'], 64),
    batchClients: intOption('batch-clients', values['batch-clients'], 4),
    singleClients: intOption('single-clients', values['single-clients'], 32),
    peerBatchSize: intOption('peer-batch-size', values['peer-batch-size'], 32),
    overloadClients: intOption('overload-clients', values['overload-clients'], 256),
    overloadSeconds: intOption('overload-seconds', values['overload-seconds'], quick ? 6 : 20),
    overloadDepth: intOption('overload-depth', values['overload-depth'], 8),
    duplicateShare,
    seed: intOption('seed', values.seed, 42, 0),
    runs: selectRuns(values.only?.split(','), values.variant),
    rounds: intOption('rounds', values.rounds, 1),
    out: absoluteOut,
    build: !values['skip-build'],
    redisUrl: values['redis-url'] ?? context.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    ...(values.profile && { profileDir: absoluteOut.replace(/\.json$/, '') + '-profiles' }),
    workerEnv: parseEnvList('worker-env', values['worker-env']),
    gatewayEnv: parseEnvList('gateway-env', values['gateway-env']),
  };
}

/** `A=1,B=x` -> { A: '1', B: 'x' }; names as environment variables are written. */
export function parseEnvList(name: string, raw: string | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of (raw ?? '').split(',').filter(Boolean)) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(pair.trim());
    if (!match) throw new UsageError(`--${name} takes NAME=value pairs separated by commas, got "${pair}"`);
    env[match[1]] = match[2];
  }
  return env;
}
