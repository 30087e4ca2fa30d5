import { summarize } from '../stats';
import { deriveCapacity, WorkerRate } from './derive';
import {
  capacityReport,
  commandTable,
  derivationText,
  memoryTable,
  representativeSteps,
  stepFigures,
  stepTable,
} from './report';
import { failedStep, StepResult } from './step';

function step(mode: string, workers: number, textsPerJob: number, cpuPerJob: number): StepResult {
  const jobs = 1000;
  return {
    spec: { mode, workers, textsPerJob, clients: 8 },
    status: 'ok',
    seconds: 10,
    jobs,
    texts: jobs * textsPerJob,
    tokens: jobs * textsPerJob * 25,
    jobsPerSecond: 100,
    textsPerSecond: 100 * textsPerJob,
    latencyMs: summarize([10, 20, 30]),
    redis: {
      delta: {
        cpuSeconds: cpuPerJob * jobs,
        commandsProcessed: 60 * jobs,
        netInputBytes: 4000 * jobs,
        netOutputBytes: 2000 * jobs,
        usedMemoryBytes: 0,
        commands: {},
      },
      cpuCores: (cpuPerJob * jobs) / 10,
      cpuSecondsPerJob: cpuPerJob,
      cpuSecondsPerText: cpuPerJob / textsPerJob,
      idleCpuCores: 0.002,
      idleCommandsPerSecond: 20,
      commands: {
        all: 60,
        scripts: 6,
        byCommand: [
          { command: 'evalsha', perJob: 6, usecPerJob: 300 },
          { command: 'xadd', perJob: 5, usecPerJob: 20 },
        ],
      },
      netInputBytesPerJob: 4000,
      netOutputBytesPerJob: 2000,
    },
    cpu: { seconds: 10, redis: 0.3, gateway: 2, workers: 1.5, driver: 1.5, others: 0.5 },
    trace: {
      jobs: 50,
      clientCommandsPerJob: 8,
      scriptCommandsPerJob: 52,
      byCommand: [{ command: 'xadd', client: 1, script: 4 }],
      scripts: [{ script: 'addStandardJob', perJob: 1, commandsPerCall: 9, commands: ['hmset', 'xadd'] }],
    },
    memory: {
      usedMemoryBytes: 5_000_000,
      usedMemoryAtStartBytes: 1_000_000,
      completedJobsKept: 1000,
      families: [],
      retained: {
        bytesPerJob: 3000,
        byFamily: [
          { family: 'jobs', bytesPerJob: 1800 },
          { family: 'prediction stream', bytesPerJob: 1200 },
        ],
      },
      inFlight: { samples: 20, jobHashBytes: 1100, lockBytes: 168 },
    },
  };
}

const rate: WorkerRate = { key: 'fp32', label: 'fp32', textsPerSecond: 30, cores: 2, source: 'test' };

describe('capacity report', () => {
  const steps = [
    step('single', 1, 1, 350e-6),
    step('batch-64', 1, 64, 1.4e-3),
    step('single', 8, 1, 400e-6),
    failedStep({ mode: 'batch-64', workers: 8, textsPerJob: 64, clients: 16 }, new Error('boom\nstack')),
  ];

  it('tabulates every step, a failed one with its reason', () => {
    const table = stepTable(steps);
    expect(table.split('\n')).toHaveLength(2 + steps.length);
    expect(table).toContain(
      '| single | 1 | 100 | 100 | 20.0 | 3.5 % | 350 | 350 | 0.20 % | 60.0 (6.00) | 4,000 / 2,000 | 2.00 / 1.50 / 1.50 | 0.53 | 0.05 |',
    );
    expect(table).toContain('| batch-64 | 8 | failed: boom |');
  });

  it('picks the step with the fewest workers of each mode for the command and memory detail', () => {
    expect(representativeSteps(steps).map((s) => `${s.spec.mode}:${s.spec.workers}`)).toEqual([
      'single:1',
      'batch-64:1',
    ]);
    const commands = commandTable(steps[0]);
    expect(commands).toContain('| xadd | 5.00 | 1.00 | 4.00 | 20.0 |');
    expect(commands).toContain('| evalsha | 6.00 | – | – | 300 |');
    expect(memoryTable(steps)).toContain(
      '| single | 1 | 1,100 + 168 | 3,000 | 1,800 | 0.00 | 0.00 | 1,200 | 0.00 | 1000 | 4,000 |',
    );
  });

  it('writes the arithmetic out', () => {
    const capacities = deriveCapacity(stepFigures(steps), [rate]);
    const text = derivationText(capacities, [rate], 20);
    // single: the larger of 350 and 400 µs -> 0.7 / 400 µs = 1,750 jobs/s -> 1,750 / 15 = 117 cores.
    expect(text).toContain('350-400 µs per job');
    expect(text).toContain('0.7 s / 400 µs = **1,750 jobs/s** × 1 = **1,750 texts/s**');
    expect(text).toContain('fp32: 1,750 / 15.0 = 117 worker cores (58.3 workers of 2 cores)');
    expect(text).toContain('fp32 20 × 30.0 = 600 texts/s → 24 % of a core');
    // batch-64: 0.7 / 1.4 ms = 500 jobs/s x 64 = 32,000 texts/s.
    expect(text).toContain('**500 jobs/s** × 64 = **32,000 texts/s**');
  });

  it('puts it all in one document', () => {
    const { markdown, capacities } = capacityReport(steps, 0.7, '## run');
    expect(capacities.map((c) => c.mode)).toEqual(['single', 'batch-64']);
    expect(markdown).toMatch(/^## run\n\n### Measured steps/);
    expect(markdown).toContain('### Commands per job: single, 1 worker(s)');
    expect(markdown).toContain('addStandardJob 1.00 (9.00 commands per call: hmset, xadd)');
    expect(markdown).toContain('### Derivation');
  });
});
