import { padTokens, paddingFromTotals, paddingRatio, percentile, perSecond, summarize } from './stats';

describe('percentile (nearest rank)', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);

  it('takes the smallest sample with p % of the samples at or below it', () => {
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 95)).toBe(95);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile(hundred, 0)).toBe(1);
  });

  it('on few samples, the high percentiles are the largest one', () => {
    expect(percentile([10, 20, 30], 50)).toBe(20);
    expect(percentile([10, 20, 30], 99)).toBe(30);
    expect(percentile([7], 50)).toBe(7);
  });

  it('is NaN without samples and refuses p outside 0..100', () => {
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1], 101)).toThrow(RangeError);
    expect(() => percentile([1], -1)).toThrow(RangeError);
  });
});

describe('summarize', () => {
  it('sorts unsorted samples and reports count, mean, percentiles and max', () => {
    const summary = summarize([30, 10, 20, 40]);
    expect(summary).toEqual({ count: 4, mean: 25, p50: 20, p95: 40, p99: 40, max: 40 });
  });

  it('leaves the caller’s array alone', () => {
    const samples = [3, 1, 2];
    summarize(samples);
    expect(samples).toEqual([3, 1, 2]);
  });

  it('is empty-safe', () => {
    expect(summarize([]).count).toBe(0);
    expect(summarize([]).p50).toBeNaN();
  });
});

describe('padding', () => {
  it('counts the pad tokens of a right-padded batch', () => {
    expect(padTokens([3, 5, 5])).toBe(2);
    expect(padTokens([4])).toBe(0);
    expect(padTokens([])).toBe(0);
  });

  it('weights the ratio by tokens over all batches', () => {
    // [2, 4] -> 8 padded, 6 real; [10] -> 10 padded, 10 real: 1 - 16/18.
    expect(paddingRatio([[2, 4], [10]])).toBeCloseTo(1 - 16 / 18, 12);
    expect(paddingRatio([[5, 5, 5]])).toBe(0);
    expect(paddingRatio([])).toBe(0);
  });

  it('derives the ratio from totals, and refuses totals that cannot be right', () => {
    expect(paddingFromTotals(90, 100)).toBeCloseTo(0.1, 12);
    expect(paddingFromTotals(100, 100)).toBe(0);
    expect(paddingFromTotals(10, 0)).toBeUndefined();
    expect(paddingFromTotals(120, 100)).toBeUndefined();
  });
});

describe('perSecond', () => {
  it('divides, and is NaN for an empty window', () => {
    expect(perSecond(120, 2)).toBe(60);
    expect(perSecond(5, 0)).toBeNaN();
  });
});
