import {
  checksTable,
  evaluateChecks,
  formatNumber,
  markdownReport,
  markdownTable,
  measurementTable,
} from './report';
import type { BenchResults, Measurement } from './results';

const row = (id: string, textsPerSecond: number, extra: Partial<Measurement> = {}): Measurement => {
  const [scenario, variant] = id.split(':') as [string, 'fp32' | 'int8'];
  return { id, scenario, variant, label: id, status: 'ok', texts: 1200, textsPerSecond, ...extra };
};
const latency = (p50: number, p99 = p50) => ({ count: 10, mean: p50, p50, p95: p99, p99, max: p99 });

describe('formatNumber', () => {
  it('keeps three significant figures below 100 and groups thousands', () => {
    expect(formatNumber(1491.4)).toBe('1,491');
    expect(formatNumber(58.74)).toBe('58.7');
    expect(formatNumber(3.14159)).toBe('3.14');
    expect(formatNumber(undefined)).toBe('–');
    expect(formatNumber(NaN)).toBe('–');
  });
});

describe('markdownTable', () => {
  it('writes a header, a rule and one line per row, escaping pipes', () => {
    expect(markdownTable(['a', 'b'], [['1', 'x | y']])).toBe('| a | b |\n| --- | --- |\n| 1 | x \\| y |');
  });
});

describe('measurementTable', () => {
  it('shows figures, latency with its unit, padding, CPU and memory per process', () => {
    const table = measurementTable([
      row('full-batch:fp32', 52.71, {
        tokensPerSecond: 1339.2,
        latencyMs: latency(857.4, 1200),
        latencyOf: 'request',
        paddingRatio: 0.0134,
        processes: {
          bench: { cpuCores: 0.1, peakRssMb: 120.4 },
          gateway: { cpuCores: 0.25, peakRssMb: 150 },
          worker: { cpuCores: 1.62, peakRssMb: 900 },
        },
        otherCpuCores: 0.03,
        note: 'model busy 95 %',
      }),
    ]);
    const line = table.split('\n')[2];
    expect(line).toBe(
      '| full-batch:fp32 | fp32 | 1200 | 52.7 | 1,339 | 857 / 1,200 / 1,200 (per request) | 1.3 % | 10 / 25 / 162 / – / 3 | 120 / 150 / 900 | model busy 95 % |',
    );
  });

  it('shows skipped and failed rows with their reason', () => {
    const table = measurementTable([
      {
        id: 'raw:int8',
        scenario: 'raw',
        variant: 'int8',
        label: 'raw',
        status: 'skipped',
        note: 'no int8 graph',
      },
    ]);
    expect(table).toContain('| raw | int8 | – | – | – | – | – | – | – | SKIPPED: no int8 graph |');
  });
});

describe('evaluateChecks', () => {
  it("holds single requests to 0.92 of the ceiling and shows how much of packing's own bound they reached", () => {
    const checks = evaluateChecks([
      row('raw-b16:fp32', 90),
      row('full-single:fp32', 66, {
        extra: { packingBound: 0.88, packingBoundTextsPerRun: 8.7, packingBoundPadding: 0.095 },
      }),
    ]);
    const single = checks.find((check) => check.name === 'full path (single requests) / raw ceiling, fp32');
    expect(single).toMatchObject({ target: '>= 0.92', met: false });
    const bound = checks.find((check) => check.name.startsWith('full path (single requests) / what packing'));
    expect(bound?.value).toBeCloseTo(66 / (0.88 * 90), 12);
    expect(bound?.detail).toBe(
      'packing alone allows 0.88 of the raw ceiling (8.7 texts per run, 9.5 % padding)',
    );
    const waited = evaluateChecks([
      row('raw-b16:fp32', 90),
      row('full-single:fp32', 66, {
        extra: {
          packingBound: 0.88,
          packingBoundTextsPerRun: 8.7,
          packingBoundPadding: 0.095,
          packingBoundWaiting: 0.9,
        },
      }),
    ]).find((check) => check.name.startsWith('full path (single requests) / what packing'));
    expect(waited?.detail).toBe(
      'packing alone allows 0.88 of the raw ceiling (8.7 texts per run, 9.5 % padding); ' +
        "0.90 if each lane waited, at no cost, for its last run's texts",
    );
  });

  it("takes the best raw reading on the worker's lanes for batch requests, the one after them included", () => {
    const lanes = (id: string, rate: number) => row(id, rate, { scenario: 'raw' });
    const ratio = (rows: Measurement[]) =>
      evaluateChecks(rows).find((check) =>
        check.name.startsWith(
          "full path (batch requests) / raw on the worker's lanes and session options, int8",
        ),
      );
    // A disturbed first reading (238) would put the ratio at 1.08; the second (280) holds it to 0.92.
    const before = lanes('raw-b16-worker:int8', 238);
    const served = row('full-batch:int8', 257);
    expect(ratio([before, served])?.value).toBeCloseTo(257 / 238, 12);
    const checked = ratio([before, served, lanes('raw-again-b16-worker:int8', 280)]);
    expect(checked?.value).toBeCloseTo(257 / 280, 12);
    expect(checked?.met).toBe(false);
  });

  const measurements = [
    row('raw-b16:fp32', 58),
    row('raw-b32:fp32', 60),
    row('full-batch:fp32', 55),
    row('full-single:fp32', 40),
    row('peer-single:fp32', 33),
    row('peer-batch:fp32', 26),
    row('seed:fp32', 32),
    row('idle-model:fp32', 30, { latencyMs: latency(28) }),
    row('idle-http:fp32', 25, { latencyMs: latency(36) }),
    row('overload:fp32', 38, {
      latencyMs: latency(900, 1900),
      extra: { refused: 250, refusedP99Ms: 12, boundMs: 2842 },
    }),
    { ...row('raw-b16:int8', 0), status: 'skipped' as const, textsPerSecond: undefined },
  ];
  const checks = evaluateChecks(measurements);
  const check = (name: string) => {
    const found = checks.find((c) => c.name.startsWith(name));
    if (!found) throw new Error(`no check ${name}`);
    return found;
  };

  it('compares the full path with the best raw batch size of the same variant', () => {
    expect(check('full path (batch requests) / raw ceiling, fp32')).toMatchObject({
      met: true,
      target: '>= 0.9',
    });
    expect(check('full path (batch requests) / raw ceiling, fp32').value).toBeCloseTo(55 / 60, 12);
  });

  it('compares with the better of the two transformers.js modes', () => {
    expect(check('ours (full path, batch) / transformers.js best, fp32').value).toBeCloseTo(55 / 33, 12);
    expect(check('ours (full path, batch) / transformers.js best, fp32').met).toBe(true);
  });

  it('leaves what was not measured open instead of failing it', () => {
    const int8 = check('full path (batch requests) / raw ceiling, int8');
    expect(int8.value).toBeUndefined();
    expect(int8.met).toBeUndefined();
    expect(int8.detail).toBe('not measured in this run');
  });

  it('checks the idle overhead and the overload bounds', () => {
    expect(check('idle single request')).toMatchObject({ value: 8, met: true });
    expect(check('overload')).toMatchObject({ value: 1900, met: true });
    const overloadMet = (extra: Measurement['extra'], p99 = 1900) =>
      evaluateChecks([row('overload:fp32', 38, { latencyMs: latency(900, p99), extra })]).find((c) =>
        c.name.startsWith('overload'),
      )?.met;
    expect(overloadMet({ refused: 0, refusedP99Ms: NaN, boundMs: 2842 })).toBe(false);
    expect(overloadMet({ refused: 250, refusedP99Ms: 900, boundMs: 2842 })).toBe(false);
    expect(overloadMet({ refused: 250, refusedP99Ms: 12, boundMs: 2842 }, 4000)).toBe(false);
  });

  it('compares requests after a pause with back-to-back ones, path and model alone, without a target', () => {
    const quiet = evaluateChecks([
      row('idle-model-nospin:fp32', 30, { latencyMs: latency(25) }),
      row('idle-http:fp32', 25, { latencyMs: latency(36) }),
      row('sparse-model:fp32', 1, { latencyMs: latency(38) }),
      row('sparse-http:fp32', 1, { latencyMs: latency(45) }),
    ]);
    const path = quiet.find((c) => c.name.startsWith('single request after a pause / back to back'));
    expect(path).toMatchObject({ value: 45 / 36, unit: 'ratio', detail: 'p50 45.0 ms vs 36.0 ms' });
    expect(path?.target).toBeUndefined();
    const model = quiet.find((c) => c.name.startsWith('model alone, batch of one after a pause'));
    expect(model).toMatchObject({ value: 38 / 25, unit: 'ratio' });
    // Not measured: no rows at all, rather than open ones (there is nothing to meet).
    expect(checks.some((c) => c.name.includes('after a pause'))).toBe(false);
  });

  it('compares int8 with uint8 weights, against 1.7x only on a CPU with an int8 dot product', () => {
    const weights = (flags: string) => [
      row('weights-uint8:int8', 57, { extra: { int8Flags: flags } }),
      row('weights-int8:int8', 105, { extra: { int8Flags: flags, perBatchRatioMedian: 1.86 } }),
    ];
    const check = (flags: string) =>
      evaluateChecks(weights(flags)).find((c) => c.name.startsWith('int8 graph: int8 weights / uint8'));
    expect(check('avx512_vnni')).toMatchObject({
      target: '>= 1.7 (CPU with avx512_vnni)',
      met: true,
      detail: expect.stringContaining('per batch 1.86x (median)'),
    });
    expect(check('avx512_vnni')?.value).toBeCloseTo(105 / 57);
    expect(check('none')).toMatchObject({ target: undefined, met: undefined });
  });

  it('prints ratios as multiples and misses as NO', () => {
    const table = checksTable([
      { name: 'r', value: 0.8512, unit: 'ratio', target: '>= 0.9', met: false, detail: 'd' },
      { name: 'm', value: 12.34, unit: 'ms', target: '<= 10 ms', met: false },
    ]);
    expect(table).toContain('| r | 0.85x | >= 0.9 | NO | d |');
    expect(table).toContain('| m | 12.3 ms | <= 10 ms | NO |  |');
  });
});

describe('markdownReport', () => {
  it('names the machine and both tables', () => {
    const results: BenchResults = {
      startedAt: 't',
      machine: {
        cpuModel: 'AMD EPYC',
        cores: 2,
        node: 'v20',
        onnxruntime: '1.30.0',
        loadAverageAtStart: [1, 2, 3],
      },
      settings: {},
      measurements: [row('seed:fp32', 32)],
      checks: [],
    };
    const report = markdownReport(results);
    expect(report).toMatch(
      /^Machine: AMD EPYC, 2 cores; Node v20, onnxruntime-node 1.30.0; load average 1.00 2.00 3.00 at start\./,
    );
    expect(report).toContain('| seed:fp32 | fp32 |');
    expect(report).toContain('| comparison | value | target | met | detail |');
    expect(report).not.toContain('Disturbed');
    const withFlags = markdownReport({
      ...results,
      machine: { ...results.machine, cpuFlags: ['avx2', 'avx512_vnni'], int8DotProduct: ['avx512_vnni'] },
    });
    expect(withFlags).toContain('; CPU flags avx2 avx512_vnni (int8 dot product: avx512_vnni);');
  });

  it('flags measurements that other processes disturbed', () => {
    const results: BenchResults = {
      startedAt: 't',
      machine: { cpuModel: 'x', cores: 2, node: 'v20', onnxruntime: '1.30.0', loadAverageAtStart: [0, 0, 0] },
      settings: {},
      measurements: [
        row('seed:fp32', 32, { otherCpuCores: 0.6 }),
        row('raw-b16:fp32', 58, { otherCpuCores: 0.01 }),
      ],
      checks: [],
    };
    expect(markdownReport(results)).toMatch(/\*\*Disturbed:\*\* .* during seed:fp32;/);
  });
});
