import {
  deriveCapacity,
  README_WORKER_RATES,
  redisCapacity,
  redisCoresAt,
  shardsFor,
  textsPerWorkerCore,
  workerCoresFed,
  WorkerRate,
} from './derive';

const fp32: WorkerRate = { key: 'fp32', label: 'fp32', textsPerSecond: 30, cores: 2, source: 'test' };
const int8: WorkerRate = { key: 'int8', label: 'int8', textsPerSecond: 100, cores: 2, source: 'test' };

describe('redisCapacity', () => {
  it('divides the CPU budget by the CPU per job, and multiplies by texts per job', () => {
    // 0.7 s of CPU per second / 350 µs per job = 2,000 jobs/s; batches of 64 make 128,000 texts/s.
    expect(redisCapacity(350e-6, 1)).toMatchObject({ jobsPerSecond: 2000, textsPerSecond: 2000 });
    const batch = redisCapacity(1e-3, 64);
    expect(batch.jobsPerSecond).toBeCloseTo(700, 9);
    expect(batch.textsPerSecond).toBeCloseTo(44_800, 6);
    expect(redisCapacity(1e-3, 1, 0.5).jobsPerSecond).toBeCloseTo(500, 9);
  });

  it('refuses a CPU per job that is not positive', () => {
    expect(() => redisCapacity(0, 1)).toThrow(/positive/);
    expect(() => redisCapacity(NaN, 1)).toThrow(/positive/);
  });
});

describe('worker arithmetic', () => {
  it('turns texts/s into worker cores and workers at a rate per core', () => {
    expect(textsPerWorkerCore(fp32)).toBe(15);
    expect(workerCoresFed(1500, fp32)).toEqual({ cores: 100, workers: 50 });
    expect(workerCoresFed(1500, int8)).toEqual({ cores: 30, workers: 15 });
  });

  it('gives the Redis CPU that busy workers cause', () => {
    // 20 workers x 30 texts/s = 600 single-text jobs/s x 400 µs = 0.24 cores; in batches of 16, 1/16 of that.
    expect(redisCoresAt(20, fp32, 400e-6, 1)).toBeCloseTo(0.24, 9);
    expect(redisCoresAt(20, fp32, 400e-6, 16)).toBeCloseTo(0.015, 9);
  });

  it('counts the shards a load needs', () => {
    const capacity = redisCapacity(350e-6, 1); // 2,000 texts/s
    expect(shardsFor(100, capacity)).toBe(1);
    expect(shardsFor(2000, capacity)).toBe(1);
    expect(shardsFor(2001, capacity)).toBe(2);
    expect(shardsFor(9000, capacity)).toBe(5);
  });

  it("carries the README's rates with their sources", () => {
    expect(README_WORKER_RATES.map((r) => r.key)).toEqual(['fp32', 'int8', 'int8-uint8']);
    for (const rate of README_WORKER_RATES) expect(rate.source).toMatch(/README/);
    expect(textsPerWorkerCore(README_WORKER_RATES[0])).toBeCloseTo(15.55, 9);
  });
});

describe('deriveCapacity', () => {
  const steps = [
    { mode: 'single', workers: 1, textsPerJob: 1, redisCpuSecondsPerJob: 300e-6 },
    { mode: 'single', workers: 8, textsPerJob: 1, redisCpuSecondsPerJob: 350e-6 },
    { mode: 'batch-64', workers: 1, textsPerJob: 64, redisCpuSecondsPerJob: 1.4e-3 },
    { mode: 'batch-64', workers: 8, textsPerJob: 64, redisCpuSecondsPerJob: 0 }, // failed step
  ];

  it('uses the largest CPU per job of each mode and reports the range', () => {
    const [single, batch] = deriveCapacity(steps, [fp32, int8]);
    expect(single).toMatchObject({
      mode: 'single',
      textsPerJob: 1,
      minCpuSecondsPerJob: 300e-6,
      maxCpuSecondsPerJob: 350e-6,
    });
    expect(single.capacity.jobsPerSecond).toBeCloseTo(2000, 9);
    expect(single.fed.map((f) => [f.rate.key, f.cores, f.workers])).toEqual([
      ['fp32', expect.closeTo(133.33, 2), expect.closeTo(66.67, 2)],
      ['int8', expect.closeTo(40, 9), expect.closeTo(20, 9)],
    ]);
    expect(batch.mode).toBe('batch-64');
    expect(batch.capacity.jobsPerSecond).toBeCloseTo(500, 9);
    expect(batch.capacity.textsPerSecond).toBeCloseTo(32_000, 6);
  });

  it('follows the budget', () => {
    const [single] = deriveCapacity(steps.slice(0, 2), [fp32], 0.35);
    expect(single.capacity.jobsPerSecond).toBeCloseTo(1000, 9);
  });

  it('refuses a mode without a measured step', () => {
    expect(() => deriveCapacity([{ ...steps[3] }], [fp32])).toThrow(/batch-64/);
  });
});
