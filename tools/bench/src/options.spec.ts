import { parseBenchArgs, selectRuns, SCENARIOS, usage, UsageError } from './options';

const context = { root: '/repo', now: new Date('2026-01-02T03:04:05.678Z'), env: {} };
const parse = (...argv: string[]) => {
  const options = parseBenchArgs(argv, context);
  if (options === 'help') throw new Error('unexpected help');
  return options;
};
const names = (runs: Array<{ scenario: string; variant: string }>) =>
  runs.map((r) => `${r.scenario}:${r.variant}`);

describe('parseBenchArgs', () => {
  it('defaults to the full-size run of every scenario, fp32 then int8', () => {
    const options = parse();
    expect(options).toMatchObject({
      quick: false,
      texts: 1200,
      slowTexts: 300,
      idleRequests: 60,
      sparseRequests: 20,
      sparseGapMs: 1000,
      threads: 2,
      rawBatchSizes: [16, 32],
      batchSize: 64,
      batchClients: 4,
      singleClients: 32,
      duplicateShare: 0.3,
      modelDir: '/repo/models/synthetic-base',
      out: '/repo/tmp/bench/results-2026-01-02T03-04-05-678Z.json',
      build: true,
      redisUrl: 'redis://127.0.0.1:6379',
    });
    expect(options.runs[0]).toEqual({ scenario: 'raw', variant: 'fp32' });
    expect(names(options.runs).filter((n) => n.endsWith(':int8'))).toEqual([
      'raw:int8',
      'cost:int8',
      'weights:int8',
      'seed:int8',
      'peer:int8',
      'full-batch:int8',
    ]);
    expect(options.runs.findIndex((r) => r.variant === 'int8')).toBe(
      SCENARIOS.filter((s) => s.variants.includes('fp32')).length,
    );
  });

  it('makes --quick small, and explicit sizes win over it', () => {
    expect(parse('--quick')).toMatchObject({
      texts: 160,
      slowTexts: 40,
      idleRequests: 15,
      sparseRequests: 5,
      overloadSeconds: 6,
    });
    expect(parse('--quick', '--texts', '500')).toMatchObject({ texts: 500, slowTexts: 40 });
  });

  it('never makes the one-at-a-time scenarios longer than the throughput ones', () => {
    expect(parse('--texts', '100').slowTexts).toBe(100);
  });

  it('takes paths, the Redis URL and --skip-build', () => {
    const options = parseBenchArgs(['--model-dir', '/m/x', '--out', 'r.json', '--skip-build'], {
      ...context,
      env: { REDIS_URL: 'redis://elsewhere:6380' },
    });
    expect(options).toMatchObject({
      modelDir: '/m/x',
      out: '/repo/r.json',
      build: false,
      redisUrl: 'redis://elsewhere:6380',
    });
  });

  it('answers help, and names what is wrong', () => {
    expect(parseBenchArgs(['--help'], context)).toBe('help');
    expect(() => parse('--texts', 'many')).toThrow(UsageError);
    expect(() => parse('--texts', '0')).toThrow(/--texts/);
    expect(() => parse('--duplicates', '1')).toThrow(/--duplicates/);
    expect(() => parse('--sparse-gap-ms', '0')).toThrow(/--sparse-gap-ms/);
    expect(() => parse('--sparse-gap-ms', '60001')).toThrow(/--sparse-gap-ms/);
    expect(parse('--sparse-gap-ms', '250', '--sparse', '7')).toMatchObject({
      sparseGapMs: 250,
      sparseRequests: 7,
    });
    expect(() => parse('--frobnicate')).toThrow(UsageError);
    expect(usage()).toContain('full-batch');
  });

  it('repeats the selection with --rounds (once by default)', () => {
    expect(parse().rounds).toBe(1);
    expect(parse('--rounds', '3').rounds).toBe(3);
    expect(() => parse('--rounds', '0')).toThrow(/--rounds/);
  });
});

describe('--model-cpus', () => {
  it('is off by default', () => {
    expect(parse().modelCpus).toBeUndefined();
  });

  it('reads the list, and gives the model as many threads as it has CPUs unless --threads says otherwise', () => {
    expect(parse('--model-cpus', '0')).toMatchObject({ modelCpus: [0], threads: 1 });
    expect(parse('--model-cpus', '2-3,0')).toMatchObject({ modelCpus: [0, 2, 3], threads: 3 });
    expect(parse('--model-cpus', '0-1', '--threads', '1')).toMatchObject({ modelCpus: [0, 1], threads: 1 });
  });

  it('refuses what is not a CPU list', () => {
    expect(() => parse('--model-cpus', 'first')).toThrow(UsageError);
  });
});

describe('--worker-env and --gateway-env', () => {
  it('read NAME=value pairs for the apps the benchmark starts', () => {
    expect(parse('--gateway-env', 'SYNC_TIMEOUT_MS=0,LOG_LEVEL=warn')).toMatchObject({
      gatewayEnv: { SYNC_TIMEOUT_MS: '0', LOG_LEVEL: 'warn' },
      workerEnv: {},
    });
    expect(parse('--worker-env', 'INTRA_OP_SPINNING=true').workerEnv).toEqual({ INTRA_OP_SPINNING: 'true' });
    expect(() => parse('--worker-env', 'spinning')).toThrow(UsageError);
  });
});

describe('selectRuns', () => {
  it('selects scenarios, groups, variants and scenario:variant, as a union', () => {
    expect(names(selectRuns(['raw'], 'all'))).toEqual(['raw:fp32', 'raw:int8']);
    expect(names(selectRuns(['full'], 'fp32'))).toEqual(['full-batch:fp32', 'full-single:fp32']);
    expect(names(selectRuns(['producer'], 'all'))).toEqual(['producer-batch:fp32', 'producer-single:fp32']);
    expect(names(selectRuns(['int8'], 'all'))).toEqual([
      'raw:int8',
      'cost:int8',
      'weights:int8',
      'seed:int8',
      'peer:int8',
      'full-batch:int8',
    ]);
    expect(names(selectRuns(['peer:int8', 'cache'], 'all'))).toEqual(['cache:fp32', 'peer:int8']);
  });

  it('keeps the execution order whatever the order asked', () => {
    expect(names(selectRuns(['cache', 'raw'], 'fp32'))).toEqual(['raw:fp32', 'cache:fp32']);
  });

  it('refuses unknown names and variants', () => {
    expect(() => selectRuns(['rwa'], 'all')).toThrow(/unknown scenario "rwa"/);
    expect(() => selectRuns(['overload:int8'], 'all')).toThrow(UsageError);
    expect(() => selectRuns(undefined, 'fp16')).toThrow(/--variant/);
  });
});
