import type { Measurement, RatioCheck } from './results';
import { medianChecks, medianMeasurements } from './rounds';

const row = (id: string, textsPerSecond: number, note?: string): Measurement => ({
  id,
  scenario: id.split(':')[0],
  variant: 'fp32',
  label: id,
  status: 'ok',
  textsPerSecond,
  ...(note && { note }),
});

it('keeps one row per measurement: the round with the median rate, saying what every round gave', () => {
  const merged = medianMeasurements([
    [row('raw:fp32', 90, 'a'), row('full:fp32', 60)],
    [row('raw:fp32', 80, 'b'), row('full:fp32', 70)],
    [row('raw:fp32', 85, 'c'), { ...row('full:fp32', 0), status: 'failed', note: 'boom' }],
  ]);
  expect(merged.map((m) => [m.id, m.textsPerSecond])).toEqual([
    ['raw:fp32', 85],
    ['full:fp32', 60],
  ]);
  expect(merged[0].note).toBe('median of 3 rounds (90.0, 80.0, 85.0 texts/s); c');
  expect(merged[1].note).toBe('median of 2 rounds (60.0, 70.0 texts/s)');
});

it('uses the median latency where a row has no rate, the middle round where it has neither, and passes a single round through', () => {
  const idle = (p50: number): Measurement => ({
    ...row('idle:fp32', NaN),
    textsPerSecond: undefined,
    latencyMs: { count: 1, mean: p50, p50, p95: p50, p99: p50, max: p50 },
  });
  expect(medianMeasurements([[idle(30)], [idle(10)], [idle(20)]])[0].latencyMs?.p50).toBe(20);
  const grid = (round: number): Measurement => ({
    ...row('cost:fp32', NaN),
    textsPerSecond: undefined,
    round,
  });
  expect(medianMeasurements([[grid(1)], [grid(2)], [grid(3)]])[0]).toMatchObject({
    round: 2,
    note: 'round 2 of 3',
  });
  const single = [row('raw:fp32', 1)];
  expect(medianMeasurements([single])).toEqual(single);
});

it('reports each comparison from its median round, with every round and how many met the target', () => {
  const check = (value: number | undefined): RatioCheck => ({
    name: 'singles',
    unit: 'ratio',
    target: '>= 0.8',
    ...(value !== undefined && { value, met: value >= 0.8, detail: `${value} of the ceiling` }),
  });
  const [merged] = medianChecks([[check(0.7)], [check(0.9)], [check(0.85)], [check(undefined)]]);
  expect(merged).toMatchObject({ value: 0.85, met: true });
  expect(merged.detail).toBe('rounds 0.70, 0.90, 0.85, met in 2 of 3; median round: 0.85 of the ceiling');
  expect(medianChecks([[check(undefined)], [check(undefined)]])[0].value).toBeUndefined();
});
