/**
 * The capacity model's arithmetic: from Redis CPU seconds per job to the jobs and texts one Redis serves at
 * a CPU budget, to the worker cores that load keeps busy, to the load at which one Redis is not enough.
 */

/** Redis executes commands on one thread: plan for this share of one core, keeping the rest for spikes. */
export const REDIS_CPU_BUDGET_CORES = 0.7;

/** What one inference worker serves on the base model, per the README's benchmark (2-core machine). */
export interface WorkerRate {
  key: string;
  label: string;
  textsPerSecond: number;
  cores: number;
  source: string;
}

/**
 * The README's figures (Benchmarks) for the base model on its 2-core AMD EPYC VM. Raw ONNX Runtime with the
 * worker's session options is the rate a worker reaches with its batches full; the full path measured
 * 0.94-0.98 of it.
 */
export const README_WORKER_RATES: readonly WorkerRate[] = [
  {
    key: 'fp32',
    label: 'base fp32',
    textsPerSecond: 31.1,
    cores: 2,
    source:
      "README Benchmarks table of 28 Nov 2026 (since replaced; docs/capacity.md): raw, batches of 32, the worker's session options, fp32 (31.1 texts/s)",
  },
  {
    key: 'int8',
    label: 'base int8 (int8 weights, VNNI CPU)',
    textsPerSecond: 107,
    cores: 2,
    source:
      "README Benchmarks, int8 weights for the CPU: run 4, raw int8 graph with the worker's session options, batches of 32 (107 texts/s)",
  },
  {
    key: 'int8-uint8',
    label: 'base int8 (uint8 weights, no VNNI)',
    textsPerSecond: 45.9,
    cores: 2,
    source:
      "README Benchmarks table of 28 Nov 2026 (since replaced; docs/capacity.md): raw, batches of 32, the worker's session options, int8 (uint8 weights; 45.9 texts/s)",
  },
];

export const textsPerWorkerCore = (rate: WorkerRate) => rate.textsPerSecond / rate.cores;

export interface RedisCapacity {
  /** Redis CPU seconds per job the figures rest on. */
  cpuSecondsPerJob: number;
  textsPerJob: number;
  budgetCores: number;
  /** budget / CPU per job. */
  jobsPerSecond: number;
  /** jobsPerSecond x texts per job. */
  textsPerSecond: number;
}

/** Jobs and texts per second one Redis serves when it may use `budgetCores` of CPU. */
export function redisCapacity(
  cpuSecondsPerJob: number,
  textsPerJob: number,
  budgetCores = REDIS_CPU_BUDGET_CORES,
): RedisCapacity {
  if (!(cpuSecondsPerJob > 0))
    throw new Error(`Redis CPU per job must be positive (got ${cpuSecondsPerJob})`);
  const jobsPerSecond = budgetCores / cpuSecondsPerJob;
  return {
    cpuSecondsPerJob,
    textsPerJob,
    budgetCores,
    jobsPerSecond,
    textsPerSecond: jobsPerSecond * textsPerJob,
  };
}

/** Worker cores (and workers of `rate.cores` each) that `textsPerSecond` keeps busy. */
export function workerCoresFed(textsPerSecond: number, rate: WorkerRate): { cores: number; workers: number } {
  const cores = textsPerSecond / textsPerWorkerCore(rate);
  return { cores, workers: cores / rate.cores };
}

/** Redis CPU, in cores, that `workers` busy workers cause with jobs of `textsPerJob` texts. */
export function redisCoresAt(
  workers: number,
  rate: WorkerRate,
  cpuSecondsPerJob: number,
  textsPerJob: number,
): number {
  const textsPerSecond = workers * rate.textsPerSecond;
  return (textsPerSecond / textsPerJob) * cpuSecondsPerJob;
}

/** One measured step, as the derivation needs it. */
export interface StepFigures {
  mode: string;
  workers: number;
  textsPerJob: number;
  redisCpuSecondsPerJob: number;
}

export interface ModeCapacity {
  mode: string;
  textsPerJob: number;
  /** CPU per job over the steps of this mode: the range, and the largest, which the figures use. */
  minCpuSecondsPerJob: number;
  maxCpuSecondsPerJob: number;
  capacity: RedisCapacity;
  fed: Array<{ rate: WorkerRate; cores: number; workers: number }>;
}

/**
 * Per mode: the largest Redis CPU per job measured over the worker counts (conservative: the figure with
 * the most idle polling per job), the capacity at the budget, and the worker cores it feeds at each rate.
 */
export function deriveCapacity(
  steps: readonly StepFigures[],
  rates: readonly WorkerRate[] = README_WORKER_RATES,
  budgetCores = REDIS_CPU_BUDGET_CORES,
): ModeCapacity[] {
  const modes = [...new Set(steps.map((s) => s.mode))];
  return modes.map((mode) => {
    const ofMode = steps.filter((s) => s.mode === mode && s.redisCpuSecondsPerJob > 0);
    if (ofMode.length === 0) throw new Error(`no measured step for mode ${mode}`);
    const perJob = ofMode.map((s) => s.redisCpuSecondsPerJob);
    const max = Math.max(...perJob);
    const textsPerJob = ofMode[0].textsPerJob;
    const capacity = redisCapacity(max, textsPerJob, budgetCores);
    return {
      mode,
      textsPerJob,
      minCpuSecondsPerJob: Math.min(...perJob),
      maxCpuSecondsPerJob: max,
      capacity,
      fed: rates.map((rate) => ({ rate, ...workerCoresFed(capacity.textsPerSecond, rate) })),
    };
  });
}

/**
 * Shards (independent queues, each on its own Redis or Cluster node) a load needs, each kept within the
 * budget: ceil(load / capacity).
 */
export function shardsFor(textsPerSecond: number, capacity: RedisCapacity): number {
  return Math.max(1, Math.ceil(textsPerSecond / capacity.textsPerSecond));
}
