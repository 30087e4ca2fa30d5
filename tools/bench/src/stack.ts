/**
 * The served system for one scenario: an inference worker (and a gateway unless the scenario uses
 * the producer client) under a key prefix of its own, so no scenario sees another's jobs or cached
 * results. Stopping it kills the processes and deletes every key under the prefix.
 */
import { mkdirSync } from 'node:fs';
import IORedis from 'ioredis';
import { AppProcess, deletePrefix, startGateway, startWorker } from '@reputation-monitor/app-harness';
import type { CpuPinning } from './cpu-pinning';
import { CPU_PROFILE_HOOK, ProfileSummary, profileReady, readProfile } from './cpu-profile';
import { parsePrometheusText, Sample, WorkerCounters, workerCounters } from './prometheus';
import type { ProcessRole } from './process-metrics';
import type { Variant } from './results';

export interface StackOptions {
  root: string;
  redisUrl: string;
  modelDir: string;
  variant: Variant;
  threads: number;
  /** Names the prefix, for anyone looking at Redis during a run. */
  scenario: string;
  /** RESULT_CACHE_TTL_SECONDS: 0 (off) unless a scenario measures the cache. */
  cacheTtlSeconds: number;
  /** Start a gateway in front of the worker (not for the producer-client scenarios). */
  gateway: boolean;
  gatewayEnv?: Record<string, string>;
  workerEnv?: Record<string, string>;
  /** Start the gateway and the worker with the CPU profile hook, writing profiles here (`--profile`). */
  profileDir?: string;
  /** `--model-cpus`: the worker on the model's CPUs, the gateway on the rest. */
  pinning?: CpuPinning;
}

/** CPU profiles of the gateway's and the worker's main threads over a window (SIGUSR2, cpu-profile-hook.js). */
export interface StackProfiler {
  start(): void;
  /** Stops the profilers and summarizes what they wrote, labelled `<role>, <what>`. */
  stop(what: string): Promise<ProfileSummary[]>;
}

export interface Stack {
  prefix: string;
  /** http://127.0.0.1:port of the gateway (empty without one). */
  gatewayUrl: string;
  pids: Partial<Record<ProcessRole, number>>;
  /** The worker's counters now (read from its /metrics). */
  workerCounters(): Promise<WorkerCounters>;
  /** Every sample of the worker's /metrics now. */
  workerSamples(): Promise<Sample[]>;
  /** Present when the stack was started with `profileDir`. */
  profiler?: StackProfiler;
  stop(): Promise<void>;
}

let stacksStarted = 0;
const active = new Set<Stack>();

/** Stops whatever stacks are still up (on Ctrl-C), removing their keys. */
export async function stopActiveStacks(): Promise<void> {
  await Promise.allSettled([...active].map((stack) => stack.stop()));
}

/** The Redis server's own pid (for its CPU share), when Redis runs on this machine. */
export async function redisPid(redis: IORedis): Promise<number | undefined> {
  try {
    const info = await redis.info('server');
    const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const prefix = `bench-${process.pid}-${++stacksStarted}-${options.scenario}-${options.variant}`;
  const launch = { workspaceRoot: options.root, redisUrl: options.redisUrl };
  const redis = new IORedis(options.redisUrl, { maxRetriesPerRequest: 1 });
  const apps: AppProcess[] = [];
  let stack: Stack | undefined;
  const stop = async () => {
    if (stack) active.delete(stack);
    await Promise.all(apps.map((app) => app.stop('SIGKILL')));
    try {
      await deletePrefix(redis, prefix);
    } finally {
      redis.disconnect();
    }
  };
  const profileEnv = (role: string): Record<string, string> =>
    options.profileDir
      ? {
          NODE_OPTIONS: `--require ${CPU_PROFILE_HOOK}`,
          BENCH_CPU_PROFILE_DIR: options.profileDir,
          BENCH_CPU_PROFILE_ROLE: `${role}-${prefix}`,
        }
      : {};
  if (options.profileDir) mkdirSync(options.profileDir, { recursive: true });
  try {
    const worker = await startWorker({
      ...launch,
      cpus: options.pinning?.model,
      env: {
        QUEUE_PREFIX: prefix,
        MODEL_DIR: options.modelDir,
        MODEL_VARIANT: options.variant,
        INTRA_OP_THREADS: String(options.threads),
        RESULT_CACHE_TTL_SECONDS: String(options.cacheTtlSeconds),
        ...profileEnv('worker'),
        ...options.workerEnv,
      },
    });
    apps.push(worker);
    const gateway = options.gateway
      ? await startGateway({
          ...launch,
          cpus: options.pinning?.rest,
          env: {
            QUEUE_PREFIX: prefix,
            SYNC_TIMEOUT_MS: '120000',
            ...profileEnv('gateway'),
            ...options.gatewayEnv,
          },
        })
      : undefined;
    if (gateway) apps.push(gateway);
    const workerSamples = async (): Promise<Sample[]> => {
      const response = await fetch(`${worker.url}/metrics`);
      if (!response.ok) throw new Error(`worker /metrics answered ${response.status}`);
      return parsePrometheusText(await response.text());
    };
    stack = {
      prefix,
      gatewayUrl: gateway?.url ?? '',
      pids: {
        bench: process.pid,
        worker: worker.child.pid,
        gateway: gateway?.child.pid,
        redis: await redisPid(redis),
      },
      workerSamples,
      workerCounters: async () => workerCounters(await workerSamples()),
      ...(options.profileDir && { profiler: profiler(options.profileDir, prefix, { worker, gateway }) }),
      stop,
    };
    active.add(stack);
    return stack;
  } catch (error) {
    await stop();
    throw error;
  }
}

function profiler(dir: string, prefix: string, apps: Record<string, AppProcess | undefined>): StackProfiler {
  const profiled = Object.entries(apps).filter(
    (entry): entry is [string, AppProcess] => entry[1] !== undefined,
  );
  let windows = 0;
  return {
    start: () => {
      for (const [, app] of profiled) app.child.kill('SIGUSR2');
    },
    stop: async (what) => {
      windows++;
      for (const [, app] of profiled) app.child.kill('SIGUSR2');
      return Promise.all(
        profiled.map(async ([role, app]) => {
          const file = `${dir}/${role}-${prefix}-${app.child.pid}-${windows}.cpuprofile`;
          const deadline = Date.now() + 30_000;
          while (!profileReady(file)) {
            if (Date.now() > deadline)
              throw new Error(`no CPU profile from the ${role} after 30 s (${file})`);
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
          return readProfile(file, `${role}, ${what}`);
        }),
      );
    },
  };
}
