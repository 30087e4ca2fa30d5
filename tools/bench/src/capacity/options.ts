/** Command line of `npm run bench:capacity`. Pure, so it is tested. */
import { isAbsolute, resolve } from 'node:path';
import { UsageError, intOption, parseOptions } from '../options';

export const CAPACITY_USAGE = `Usage: npm run bench:capacity -- [options]

Starts a redis-server of its own on a free loopback port, a gateway and N inference workers on the tiny
synthetic model (so Redis, not inference, is what the load exercises), drives HTTP load for a bounded time
per step and measures what each job costs Redis: CPU time, commands, network bytes, memory.

  --workers LIST          worker counts, one step each (default 1,2,4,8)
  --mode LIST             single, batch or both (default single,batch)
  --batch-sizes LIST      texts per batch request in batch mode (default 16,64)
  --seconds N             measured load per step (default 20)
  --warmup-seconds N      unmeasured load before it (default 3)
  --idle-seconds N        quiet window measuring Redis's background CPU with the apps up (default 3)
  --probe-seconds N       load under MONITOR afterwards, to tell client commands from Lua ones and name
                          BullMQ's scripts (default 3; 0 skips it; never part of the CPU figures)
  --single-clients N      concurrent clients of single requests (default 64)
  --batch-clients N       concurrent clients of batch requests (default 16)
  --threads N             ONNX Runtime intra-op threads per worker (default 1)
  --model-dir DIR         model directory (default models/synthetic-tiny, generated when missing)
  --prefix P              QUEUE_PREFIX of the apps (default rm; e.g. "{rm}" for a Cluster hash tag)
  --auth on|off           API keys and the Redis rate limiter in the gateway, as deployed (default on)
  --cache-ttl N           the worker's RESULT_CACHE_TTL_SECONDS (default 0: every text is computed)
  --budget CORES          Redis CPU the derivation plans for (default 0.7 of one core)
  --out FILE              results JSON (default tmp/capacity/capacity-<date>.json; a .md beside it)
  --skip-build            do not build the gateway and the worker first
`;

export type CapacityMode = 'single' | 'batch';

export interface StepSpec {
  /** `single` or `batch-<size>`. */
  mode: string;
  workers: number;
  /** Texts per request (1 for single). */
  textsPerJob: number;
  clients: number;
}

export interface CapacityOptions {
  steps: StepSpec[];
  seconds: number;
  warmupSeconds: number;
  idleSeconds: number;
  probeSeconds: number;
  threads: number;
  modelDir: string;
  prefix: string;
  auth: boolean;
  cacheTtlSeconds: number;
  budgetCores: number;
  out: string;
  build: boolean;
}

function intList(name: string, raw: string, min: number, max: number): number[] {
  const values = raw.split(',').map((part) => part.trim());
  if (values.length === 0 || values.some((v) => !/^\d+$/.test(v) || Number(v) < min || Number(v) > max))
    throw new UsageError(`--${name} must be a comma-separated list of integers ${min}-${max}, got "${raw}"`);
  return [...new Set(values.map(Number))];
}

/** The steps in the order they run: each worker count with every mode, so slow drifts of the machine spread over all modes. */
export function capacitySteps(
  workers: readonly number[],
  modes: readonly CapacityMode[],
  batchSizes: readonly number[],
  clients: { single: number; batch: number },
): StepSpec[] {
  return workers.flatMap((count) =>
    modes.flatMap((mode) =>
      mode === 'single'
        ? [{ mode: 'single', workers: count, textsPerJob: 1, clients: clients.single }]
        : batchSizes.map((size) => ({
            mode: `batch-${size}`,
            workers: count,
            textsPerJob: size,
            clients: clients.batch,
          })),
    ),
  );
}

export function parseCapacityArgs(
  argv: readonly string[],
  context: { root: string; now: Date },
): CapacityOptions | 'help' {
  const values = parseOptions(argv, {
    help: { type: 'boolean', default: false },
    workers: { type: 'string', default: '1,2,4,8' },
    mode: { type: 'string', default: 'single,batch' },
    'batch-sizes': { type: 'string', default: '16,64' },
    seconds: { type: 'string' },
    'warmup-seconds': { type: 'string' },
    'idle-seconds': { type: 'string' },
    'probe-seconds': { type: 'string' },
    'single-clients': { type: 'string' },
    'batch-clients': { type: 'string' },
    threads: { type: 'string' },
    'model-dir': { type: 'string', default: 'models/synthetic-tiny' },
    prefix: { type: 'string', default: 'rm' },
    auth: { type: 'string', default: 'on' },
    'cache-ttl': { type: 'string' },
    budget: { type: 'string' },
    out: { type: 'string' },
    'skip-build': { type: 'boolean', default: false },
  });
  if (values.help) return 'help';
  const modes = values.mode.split(',').map((m) => m.trim());
  if (modes.length === 0 || modes.some((m) => m !== 'single' && m !== 'batch'))
    throw new UsageError(`--mode must be single, batch or single,batch, got "${values.mode}"`);
  if (!['on', 'off'].includes(values.auth))
    throw new UsageError(`--auth must be on or off, got "${values.auth}"`);
  if (!/^[A-Za-z0-9{}_.-]{1,64}$/.test(values.prefix))
    throw new UsageError(
      `--prefix must be 1-64 letters, digits, "{", "}", "_", "." or "-", got "${values.prefix}"`,
    );
  const budgetCores = values.budget === undefined ? 0.7 : Number(values.budget);
  if (!(budgetCores > 0 && budgetCores <= 1))
    throw new UsageError(
      `--budget must be a share of one core, above 0 and at most 1, got "${values.budget}"`,
    );
  const stamp = context.now.toISOString().replace(/[:.]/g, '-');
  const out = values.out ?? `tmp/capacity/capacity-${stamp}.json`;
  const modelDir = values['model-dir'];
  return {
    steps: capacitySteps(
      intList('workers', values.workers, 1, 64),
      [...new Set(modes)] as CapacityMode[],
      intList('batch-sizes', values['batch-sizes'], 2, 256),
      {
        single: intOption('single-clients', values['single-clients'], 64, 1, 10_000),
        batch: intOption('batch-clients', values['batch-clients'], 16, 1, 10_000),
      },
    ),
    seconds: intOption('seconds', values.seconds, 20, 1, 3_600),
    warmupSeconds: intOption('warmup-seconds', values['warmup-seconds'], 3, 0, 600),
    idleSeconds: intOption('idle-seconds', values['idle-seconds'], 3, 0, 600),
    probeSeconds: intOption('probe-seconds', values['probe-seconds'], 3, 0, 600),
    threads: intOption('threads', values.threads, 1, 1, 64),
    modelDir: isAbsolute(modelDir) ? modelDir : resolve(context.root, modelDir),
    prefix: values.prefix,
    auth: values.auth === 'on',
    cacheTtlSeconds: intOption('cache-ttl', values['cache-ttl'], 0, 0, 30 * 86_400),
    budgetCores,
    out: isAbsolute(out) ? out : resolve(context.root, out),
    build: !values['skip-build'],
  };
}
