/**
 * One capacity step: a redis-server of its own, N inference workers and a gateway on the tiny model,
 * then, in order, warm-up load, a quiet window (Redis's background CPU), the measured load window (INFO
 * and /proc before and after), a short load under MONITOR (who sends which command, which BullMQ
 * scripts run; sampled in-flight job sizes), and a scan of every key by family (what stays in memory).
 * Everything is on 127.0.0.1 and every phase is bounded in time.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import IORedis from 'ioredis';
import {
  APP_ENTRY,
  AppProcess,
  freePort,
  RedisServer,
  startGateway,
  startWorker,
  waitFor,
  keyFamily,
  KeyFamily,
} from '@reputation-monitor/app-harness';
import { QueueName } from '@reputation-monitor/contracts';
import { drive, Outcome, Send } from '../load-driver';
import { parseMachineBusyTicks, parseProcStat } from '../process-metrics';
import { LatencySummary, summarize } from '../stats';
import { chunk } from '../workload';
import {
  estimateFamilies,
  FamilyEstimate,
  FamilyMemory,
  retainedPerJob,
  RetainedPerJob,
  sampleIndices,
} from './key-families';
import { MonitorEvent, summarizeTrace, TraceSummary } from './monitor-trace';
import type { CapacityOptions, StepSpec } from './options';
import {
  commandsPerJob,
  CommandsPerJob,
  readingDelta,
  readingFromInfo,
  RedisDelta,
  RedisReading,
} from './redis-info';

const QUEUE = QueueName.Sentiment;
/** Keys MEMORY USAGE measures per family at most (spread over the family). */
const MEMORY_SAMPLES = 200;

export interface CpuWindow {
  seconds: number;
  /** CPU seconds over the window, per process group. */
  redis: number;
  gateway: number;
  workers: number;
  /** This process: the HTTP load driver. */
  driver: number;
  /** Busy CPU of the whole machine (all cores) minus the above: other people's processes, steal. */
  others: number;
}

export interface StepResult {
  spec: StepSpec;
  status: 'ok' | 'failed';
  error?: string;
  /** When dist/ of the worker and the gateway this step ran was built (others may rebuild it between steps). */
  appsBuiltAt?: string[];
  /** The measured window. */
  seconds: number;
  jobs: number;
  texts: number;
  tokens: number;
  jobsPerSecond: number;
  textsPerSecond: number;
  latencyMs: LatencySummary;
  redis: {
    delta: RedisDelta;
    /** Redis CPU over the window, in cores. */
    cpuCores: number;
    cpuSecondsPerJob: number;
    cpuSecondsPerText: number;
    /** Redis CPU while the apps were up and no load ran, in cores (heartbeats, blocking fetches timing out …). */
    idleCpuCores: number;
    idleCommandsPerSecond: number;
    commands: CommandsPerJob;
    netInputBytesPerJob: number;
    netOutputBytesPerJob: number;
    readsPerJob?: number;
  };
  cpu: CpuWindow;
  trace?: TraceSummary;
  memory?: {
    usedMemoryBytes: number;
    /** used_memory with the apps up, before any job. */
    usedMemoryAtStartBytes: number;
    completedJobsKept: number;
    families: FamilyEstimate[];
    retained: RetainedPerJob;
    /** MEMORY USAGE of active jobs' hashes (payload, no result yet) and of their locks, sampled under load. */
    inFlight?: { samples: number; jobHashBytes: number; lockBytes: number };
  };
}

let ticks: number | undefined;
function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

function processCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).cpuTicks / clockTicks();
  } catch {
    return 0;
  }
}

const machineBusySeconds = () => parseMachineBusyTicks(readFileSync('/proc/stat', 'utf8')) / clockTicks();

interface Pids {
  redis?: number;
  gateway?: number;
  workers: number[];
}

/** CPU of our processes and of the rest of the machine over a window. */
function cpuWindow(pids: Pids): () => CpuWindow {
  const read = () => ({
    at: performance.now(),
    redis: processCpuSeconds(pids.redis),
    gateway: processCpuSeconds(pids.gateway),
    workers: pids.workers.reduce((sum, pid) => sum + processCpuSeconds(pid), 0),
    driver: processCpuSeconds(process.pid),
    machine: machineBusySeconds(),
  });
  const start = read();
  return () => {
    const end = read();
    const d = {
      redis: end.redis - start.redis,
      gateway: end.gateway - start.gateway,
      workers: end.workers - start.workers,
      driver: end.driver - start.driver,
    };
    const ours = d.redis + d.gateway + d.workers + d.driver;
    return {
      seconds: (end.at - start.at) / 1000,
      ...d,
      others: Math.max(0, end.machine - start.machine - ours),
    };
  };
}

async function postJson(url: string, key: string | undefined, body: unknown) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key && { authorization: `Bearer ${key}` }) },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, text };
}

/** POST /v1/sentiment (one text) or /v1/sentiment/batch (several), with the key when there is one. */
function sender(gatewayUrl: string, key: string | undefined): Send<string[]> {
  return async (texts) => {
    const single = texts.length === 1;
    const { status, text } = await postJson(
      `${gatewayUrl}/v1/sentiment${single ? '' : '/batch'}`,
      key,
      single ? { text: texts[0] } : { items: texts.map((t) => ({ text: t })) },
    );
    if (status !== 200) return { status, texts: 0, tokens: 0, error: text.slice(0, 200) };
    const body = JSON.parse(text) as { tokens?: number; results?: Array<{ tokens: number }> };
    const results = body.results ?? [{ tokens: body.tokens ?? 0 }];
    return { status, texts: results.length, tokens: results.reduce((sum, r) => sum + r.tokens, 0) };
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function reading(redis: IORedis): Promise<RedisReading> {
  return readingFromInfo(await redis.info('everything'));
}

async function clientAddress(redis: IORedis): Promise<string | undefined> {
  const info = String(await redis.call('client', 'info'));
  return /addr=(\S+)/.exec(info)?.[1];
}

/** Every key of the step's Redis by family, each family measured on up to MEMORY_SAMPLES keys. */
async function keyMemory(redis: IORedis, prefix: string): Promise<FamilyMemory[]> {
  const byFamily = new Map<KeyFamily, string[]>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
    for (const key of keys) {
      const family = keyFamily(key, prefix, QUEUE);
      const list = byFamily.get(family) ?? [];
      list.push(key);
      byFamily.set(family, list);
    }
    cursor = next;
  } while (cursor !== '0');
  const families: FamilyMemory[] = [];
  for (const [family, keys] of byFamily) {
    const sampledBytes: number[] = [];
    for (const index of sampleIndices(keys.length, MEMORY_SAMPLES)) {
      const bytes = await redis.memory('USAGE', keys[index], 'SAMPLES', 0);
      if (typeof bytes === 'number') sampledBytes.push(bytes);
    }
    families.push({ family, keys: keys.length, sampledBytes });
  }
  return families;
}

/** Samples the hashes and locks of active jobs every 250 ms until stopped. */
function inFlightSampler(redis: IORedis, prefix: string) {
  const jobBytes: number[] = [];
  const lockBytes: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const ids = await redis.lrange(`${prefix}:${QUEUE}:active`, 0, 4).catch(() => [] as string[]);
      for (const id of ids) {
        const job = await redis.memory('USAGE', `${prefix}:${QUEUE}:${id}`, 'SAMPLES', 0).catch(() => null);
        const lock = await redis
          .memory('USAGE', `${prefix}:${QUEUE}:${id}:lock`, 'SAMPLES', 0)
          .catch(() => null);
        // A job that completed between LRANGE and MEMORY USAGE has its result already: keep only those still locked.
        if (typeof job === 'number' && typeof lock === 'number') {
          jobBytes.push(job);
          lockBytes.push(lock);
        }
      }
      await sleep(250);
    }
  })();
  return async () => {
    running = false;
    await loop;
    const mean = (values: number[]) =>
      values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
    return { samples: jobBytes.length, jobHashBytes: mean(jobBytes), lockBytes: mean(lockBytes) };
  };
}

function builtAt(root: string): string[] {
  return [APP_ENTRY.worker, APP_ENTRY.gateway].map((entry) => {
    try {
      return statSync(join(root, entry)).mtime.toISOString();
    } catch {
      return 'missing';
    }
  });
}

export interface StepContext {
  root: string;
  options: CapacityOptions;
  tweets: readonly string[];
  shaNames: ReadonlyMap<string, string>;
  log(message: string): void;
}

/** What a step started, so an interrupt can stop it. */
const live = new Set<{ apps: AppProcess[]; redis: RedisServer }>();

export async function stopLiveSteps(): Promise<void> {
  await Promise.allSettled(
    [...live].map(async (step) => {
      await Promise.allSettled(step.apps.map((app) => app.stop('SIGKILL')));
      await step.redis.kill();
    }),
  );
}

const jobsOf = (outcomes: readonly Outcome[]) => outcomes.filter((o) => o.status === 200);

function assertAnswered(outcomes: readonly Outcome[], phase: string): void {
  const bad = outcomes.filter((o) => o.status !== 200);
  if (bad.length > 0)
    throw new Error(
      `${phase}: ${bad.length} of ${outcomes.length} requests not answered with 200 (first: ${bad[0].status} ${bad[0].error ?? ''})`,
    );
}

export async function runStep(context: StepContext, spec: StepSpec): Promise<StepResult> {
  const { options, log } = context;
  const { prefix } = options;
  const server = new RedisServer({ port: await freePort() });
  const started = { apps: [] as AppProcess[], redis: server };
  live.add(started);
  let redis: IORedis | undefined;
  let probe: IORedis | undefined;
  try {
    await server.start();
    redis = new IORedis(server.url, { maxRetriesPerRequest: 1 });
    const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]) || undefined;
    const apiKey = options.auth ? randomBytes(24).toString('hex') : undefined;
    const launch = { workspaceRoot: context.root, redisUrl: server.url };
    const workers = await Promise.all(
      Array.from({ length: spec.workers }, () =>
        startWorker({
          ...launch,
          env: {
            QUEUE_PREFIX: prefix,
            MODEL_DIR: options.modelDir,
            MODEL_VARIANT: 'fp32',
            INTRA_OP_THREADS: String(options.threads),
            RESULT_CACHE_TTL_SECONDS: String(options.cacheTtlSeconds),
          },
        }).then((app) => (started.apps.push(app), app)),
      ),
    );
    const gateway = await startGateway({
      ...launch,
      env: {
        QUEUE_PREFIX: prefix,
        SYNC_TIMEOUT_MS: '120000',
        ...(apiKey ? { API_KEYS: `capacity:${apiKey}`, RATE_LIMIT_PER_MINUTE: '10000000' } : {}),
      },
    });
    started.apps.push(gateway);
    await waitFor(
      async () => ((await fetch(`${gateway.url}/health/ready`)).ok ? true : undefined),
      30_000,
      'the gateway to see a worker',
    );
    const pids: Pids = {
      redis: redisPid,
      gateway: gateway.child.pid,
      workers: workers.map((w) => w.child.pid).filter((pid): pid is number => pid !== undefined),
    };
    const items =
      spec.textsPerJob === 1 ? context.tweets.map((t) => [t]) : chunk(context.tweets, spec.textsPerJob);
    const send = sender(gateway.url, apiKey);
    const usedMemoryAtStartBytes = (await reading(redis)).usedMemoryBytes;

    if (options.warmupSeconds > 0) {
      const warm = await drive(items, spec.clients, send, {
        until: performance.now() + options.warmupSeconds * 1000,
      });
      assertAnswered(warm.outcomes, 'warm-up');
    }
    await sleep(500);

    // Quiet window: what the apps cost Redis without load.
    const idleBefore = await reading(redis);
    const idleCpu = cpuWindow(pids);
    if (options.idleSeconds > 0) await sleep(options.idleSeconds * 1000);
    const idleUsage = idleCpu();
    const idleDelta = readingDelta(idleBefore, await reading(redis));

    // The measured window.
    const before = await reading(redis);
    const window = cpuWindow(pids);
    const run = await drive(items, spec.clients, send, { until: performance.now() + options.seconds * 1000 });
    const cpu = window();
    const delta = readingDelta(before, await reading(redis));
    assertAnswered(run.outcomes, 'measured window');
    const answered = jobsOf(run.outcomes);
    const jobs = answered.length;
    const texts = answered.reduce((sum, o) => sum + o.texts, 0);
    const tokens = answered.reduce((sum, o) => sum + o.tokens, 0);
    if (jobs === 0) throw new Error('no job was answered in the measured window');
    const result: StepResult = {
      spec,
      status: 'ok',
      appsBuiltAt: builtAt(context.root),
      seconds: run.seconds,
      jobs,
      texts,
      tokens,
      jobsPerSecond: jobs / run.seconds,
      textsPerSecond: texts / run.seconds,
      latencyMs: summarize(answered.map((o) => o.latencyMs)),
      redis: {
        delta,
        cpuCores: delta.cpuSeconds / run.seconds,
        cpuSecondsPerJob: delta.cpuSeconds / jobs,
        cpuSecondsPerText: delta.cpuSeconds / texts,
        idleCpuCores: idleUsage.seconds > 0 ? idleDelta.cpuSeconds / idleUsage.seconds : 0,
        idleCommandsPerSecond: idleUsage.seconds > 0 ? idleDelta.commandsProcessed / idleUsage.seconds : 0,
        commands: commandsPerJob(delta, jobs),
        netInputBytesPerJob: delta.netInputBytes / jobs,
        netOutputBytesPerJob: delta.netOutputBytes / jobs,
        ...(delta.readsProcessed !== undefined && { readsPerJob: delta.readsProcessed / jobs }),
      },
      cpu,
    };
    log(
      `  ${spec.mode}, ${spec.workers} worker(s): ${result.jobsPerSecond.toFixed(0)} jobs/s, ${result.textsPerSecond.toFixed(0)} texts/s, ` +
        `Redis ${(result.redis.cpuSecondsPerJob * 1e6).toFixed(0)} µs CPU per job (${(result.redis.cpuCores * 100).toFixed(0)} % of a core), ` +
        `others ${(cpu.others / cpu.seconds).toFixed(2)} cores`,
    );

    // MONITOR under load: client commands vs script commands per job, BullMQ script names; in-flight sizes.
    let inFlight: { samples: number; jobHashBytes: number; lockBytes: number } | undefined;
    if (options.probeSeconds > 0) {
      probe = new IORedis(server.url, { maxRetriesPerRequest: 1 });
      const ignore = new Set(
        [await clientAddress(redis), await clientAddress(probe)].filter(Boolean) as string[],
      );
      const monitor = await probe.monitor(); // a connection of its own, in monitor mode
      const events: MonitorEvent[] = [];
      monitor.on('monitor', (_time: string, args: string[], source: string) => events.push({ args, source }));
      const stopSampler = inFlightSampler(probe, prefix);
      const traced = await drive(items, spec.clients, send, {
        until: performance.now() + options.probeSeconds * 1000,
      });
      inFlight = await stopSampler();
      await sleep(200); // the last completions' commands
      monitor.disconnect();
      assertAnswered(traced.outcomes, 'MONITOR probe');
      const tracedJobs = jobsOf(traced.outcomes).length;
      if (tracedJobs > 0) result.trace = summarizeTrace(events, tracedJobs, context.shaNames, ignore);
    }

    await sleep(300);
    const families = estimateFamilies(await keyMemory(redis, prefix));
    const completedJobsKept = await redis.zcard(`${prefix}:${QUEUE}:completed`);
    result.memory = {
      usedMemoryBytes: (await reading(redis)).usedMemoryBytes,
      usedMemoryAtStartBytes,
      completedJobsKept,
      families,
      retained: retainedPerJob(families, Math.max(1, completedJobsKept)),
      ...(inFlight && inFlight.samples > 0 && { inFlight }),
    };
    return result;
  } finally {
    probe?.disconnect();
    redis?.disconnect();
    await Promise.allSettled(started.apps.map((app) => app.stop('SIGKILL')));
    await server.kill();
    live.delete(started);
  }
}

/** A failed step keeps its place in the table. */
export function failedStep(spec: StepSpec, error: unknown): StepResult {
  const nothing = summarize([]);
  return {
    spec,
    status: 'failed',
    error: (error as Error).message?.split('\n')[0] ?? String(error),
    seconds: 0,
    jobs: 0,
    texts: 0,
    tokens: 0,
    jobsPerSecond: 0,
    textsPerSecond: 0,
    latencyMs: nothing,
    redis: {
      delta: {
        cpuSeconds: 0,
        commandsProcessed: 0,
        netInputBytes: 0,
        netOutputBytes: 0,
        usedMemoryBytes: 0,
        commands: {},
      },
      cpuCores: 0,
      cpuSecondsPerJob: 0,
      cpuSecondsPerText: 0,
      idleCpuCores: 0,
      idleCommandsPerSecond: 0,
      commands: { all: 0, scripts: 0, byCommand: [] },
      netInputBytesPerJob: 0,
      netOutputBytesPerJob: 0,
    },
    cpu: { seconds: 0, redis: 0, gateway: 0, workers: 0, driver: 0, others: 0 },
  };
}
