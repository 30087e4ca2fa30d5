import { UsageError } from '../options';
import { capacitySteps, parseCapacityArgs } from './options';

const context = { root: '/repo', now: new Date('2026-11-30T10:20:30.456Z') };

describe('parseCapacityArgs', () => {
  it('defaults to 1, 2, 4, 8 workers with single requests and batches of 16 and 64', () => {
    const options = parseCapacityArgs([], context);
    if (options === 'help') throw new Error('help');
    expect(options.steps.map((s) => `${s.workers}:${s.mode}`)).toEqual([
      '1:single',
      '1:batch-16',
      '1:batch-64',
      '2:single',
      '2:batch-16',
      '2:batch-64',
      '4:single',
      '4:batch-16',
      '4:batch-64',
      '8:single',
      '8:batch-16',
      '8:batch-64',
    ]);
    expect(options).toMatchObject({
      seconds: 20,
      warmupSeconds: 3,
      idleSeconds: 3,
      probeSeconds: 3,
      threads: 1,
      modelDir: '/repo/models/synthetic-tiny',
      prefix: 'rm',
      auth: true,
      cacheTtlSeconds: 0,
      budgetCores: 0.7,
      out: '/repo/tmp/capacity/capacity-2026-11-30T10-20-30-456Z.json',
      build: true,
    });
  });

  it('takes the lists, the mode and the settings', () => {
    const options = parseCapacityArgs(
      [
        '--workers',
        '2,8,2',
        '--mode',
        'batch',
        '--batch-sizes',
        '32',
        '--seconds',
        '30',
        '--batch-clients',
        '24',
        '--prefix',
        '{rm}',
        '--auth',
        'off',
        '--budget',
        '0.5',
        '--probe-seconds',
        '0',
        '--out',
        'x.json',
        '--skip-build',
        '--model-dir',
        '/m',
      ],
      context,
    );
    if (options === 'help') throw new Error('help');
    expect(options.steps).toEqual([
      { mode: 'batch-32', workers: 2, textsPerJob: 32, clients: 24 },
      { mode: 'batch-32', workers: 8, textsPerJob: 32, clients: 24 },
    ]);
    expect(options).toMatchObject({
      seconds: 30,
      prefix: '{rm}',
      auth: false,
      budgetCores: 0.5,
      probeSeconds: 0,
      out: '/repo/x.json',
      build: false,
      modelDir: '/m',
    });
  });

  it('answers help', () => {
    expect(parseCapacityArgs(['--help'], context)).toBe('help');
  });

  it.each([
    [['--workers', '0'], /--workers/],
    [['--workers', 'a,b'], /--workers/],
    [['--mode', 'both'], /--mode/],
    [['--batch-sizes', '1'], /--batch-sizes/],
    [['--batch-sizes', '300'], /--batch-sizes/],
    [['--seconds', '0'], /--seconds/],
    [['--auth', 'maybe'], /--auth/],
    [['--prefix', 'a b'], /--prefix/],
    [['--budget', '1.5'], /--budget/],
    [['--nope'], /nope/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseCapacityArgs(argv, context)).toThrow(UsageError);
    expect(() => parseCapacityArgs(argv, context)).toThrow(message);
  });
});

describe('capacitySteps', () => {
  it('runs every mode for one worker count before the next', () => {
    expect(capacitySteps([1, 4], ['single', 'batch'], [64], { single: 64, batch: 16 })).toEqual([
      { mode: 'single', workers: 1, textsPerJob: 1, clients: 64 },
      { mode: 'batch-64', workers: 1, textsPerJob: 64, clients: 16 },
      { mode: 'single', workers: 4, textsPerJob: 1, clients: 64 },
      { mode: 'batch-64', workers: 4, textsPerJob: 64, clients: 16 },
    ]);
  });
});
