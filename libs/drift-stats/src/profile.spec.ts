import { SentimentLabel } from '@reputation-monitor/contracts';
import { DriftSample, sampleFeatures } from './features';
import {
  DEFAULT_DRIFT_THRESHOLDS,
  ReferenceProfile,
  buildProfile,
  compareToProfile,
  parseProfile,
} from './profile';
import { REFERENCE_DISTRIBUTION, syntheticSamples } from './simulation';

const sample = (
  label: SentimentLabel,
  [negative, neutral, positive]: number[],
  tokens = 20,
  truncated = false,
): DriftSample => ({ label, scores: { negative, neutral, positive }, tokens, truncated });

/** n samples cycling through the given labels, each with confidence 0.8 and a varying length. */
const samplesWith = (labels: SentimentLabel[], n: number, truncatedEvery = 0): DriftSample[] =>
  Array.from({ length: n }, (_, i) => {
    const label = labels[i % labels.length];
    const scores = ['negative', 'neutral', 'positive'].map((l) => (l === label ? 0.8 : 0.1));
    return sample(label, scores, 10 + (i % 30), truncatedEvery > 0 && i % truncatedEvery === 0);
  });

describe('sampleFeatures', () => {
  it('derives confidence and entropy from normalised scores', () => {
    const f = sampleFeatures(sample('negative', [0.7, 0.2, 0.1]));
    expect(f.confidence).toBeCloseTo(0.7, 14);
    // H = -(0.7·log2 0.7 + 0.2·log2 0.2 + 0.1·log2 0.1) = 0.360201 + 0.464386 + 0.332193 = 1.156780 bits
    expect(f.entropy).toBeCloseTo(1.15677964, 7);
    // Rounded scores that do not sum to 1 are normalised first.
    expect(sampleFeatures(sample('neutral', [1, 2, 1])).confidence).toBeCloseTo(0.5, 14);
  });

  it('names the bad field', () => {
    expect(() =>
      sampleFeatures({ ...sample('neutral', [0, 1, 0]), label: 'meh' as SentimentLabel }, 'w[3]'),
    ).toThrow('w[3].label is not a sentiment label');
    expect(() => sampleFeatures(sample('neutral', [0, NaN, 1]))).toThrow('scores');
    expect(() => sampleFeatures(sample('neutral', [0, 0, 0]))).toThrow('all zero');
    expect(() => sampleFeatures(sample('neutral', [0, 1, 0], -1))).toThrow('tokens');
  });
});

describe('buildProfile', () => {
  it('counts labels and truncation over every sample and keeps sorted values', () => {
    const profile = buildProfile(
      [
        sample('positive', [0.1, 0.1, 0.8], 30),
        sample('negative', [0.6, 0.3, 0.1], 12, true),
        sample('positive', [0.05, 0.05, 0.9], 7),
      ],
      { modelVersion: 'fp32-abc' },
    );
    expect(profile).toMatchObject({
      formatVersion: 1,
      modelVersion: 'fp32-abc',
      count: 3,
      labelCounts: { negative: 1, neutral: 0, positive: 2 },
      truncatedCount: 1,
      reservoir: { cap: 5000, size: 3 },
      tokens: [7, 12, 30],
    });
    expect(profile.truncatedShare).toBeCloseTo(1 / 3, 14);
    [0.6, 0.8, 0.9].forEach((c, i) => expect(profile.confidence[i]).toBeCloseTo(c, 14));
  });

  it('caps the reservoir, reproducibly for a seed, and keeps a uniform sample', () => {
    // tokens = position in the stream, so the reservoir's values show which samples it kept
    const stream = Array.from({ length: 10_000 }, (_, i) => sample('neutral', [0.1, 0.8, 0.1], i));
    const profile = buildProfile(stream, { reservoirCap: 1000, seed: 7 });
    expect(profile.count).toBe(10_000);
    expect(profile.labelCounts.neutral).toBe(10_000);
    expect(profile.reservoir).toEqual({ cap: 1000, seed: 7, size: 1000 });
    expect(profile.tokens).toHaveLength(1000);
    expect(buildProfile(stream, { reservoirCap: 1000, seed: 7 })).toEqual(profile);
    expect(buildProfile(stream, { reservoirCap: 1000, seed: 8 }).tokens).not.toEqual(profile.tokens);
    // Uniform over positions: mean 4999.5 (sd of the mean 2887/sqrt(1000) ≈ 91) and about half from each half.
    const mean = profile.tokens.reduce((a, b) => a + b, 0) / 1000;
    expect(Math.abs(mean - 4999.5)).toBeLessThan(300);
    const firstHalf = profile.tokens.filter((t) => t < 5000).length;
    expect(firstHalf).toBeGreaterThan(450);
    expect(firstHalf).toBeLessThan(550);
  });

  it('reads from any iterable once', () => {
    function* stream() {
      for (let i = 0; i < 300; i += 1) yield sample('negative', [0.9, 0.05, 0.05], 10);
    }
    expect(buildProfile(stream()).count).toBe(300);
  });

  it('survives JSON and rejects broken profiles', () => {
    const profile = buildProfile(syntheticSamples(REFERENCE_DISTRIBUTION, 2000, 3), { modelVersion: 'v1' });
    const back = parseProfile(JSON.parse(JSON.stringify(profile)));
    expect(back).toEqual(profile);
    const broken = { ...profile, formatVersion: 2, labelCounts: { ...profile.labelCounts, neutral: -1 } };
    expect(() => parseProfile(broken)).toThrow(/formatVersion is 2[\s\S]*labelCounts needs a count/);
    expect(() => parseProfile({ ...profile, tokens: [3, 2, 1] })).toThrow('tokens must be an array');
    expect(() => parseProfile(null)).toThrow('profile is not an object');
  });
});

describe('compareToProfile', () => {
  const reference = buildProfile(syntheticSamples(REFERENCE_DISTRIBUTION, 10_000, 11));

  it('reports insufficient statistics, not numbers, below the minimum sample sizes', () => {
    const small = compareToProfile(reference, syntheticSamples(REFERENCE_DISTRIBUTION, 99, 12));
    expect(small.insufficient).toBe(true);
    expect(small.drifted).toBe(false);
    expect(small.statistics.labelMix).toEqual({
      insufficient: true,
      reason: 'window has 99 samples, fewer than 100',
      drifted: false,
    });
    expect(small.statistics.confidence).not.toHaveProperty('value');

    const tinyReference = buildProfile(syntheticSamples(REFERENCE_DISTRIBUTION, 150, 13));
    const report = compareToProfile(tinyReference, syntheticSamples(REFERENCE_DISTRIBUTION, 500, 14));
    expect(report.statistics.tokens).toMatchObject({
      insufficient: true,
      reason: expect.stringMatching(/reference/),
    });
    // Both minimums are configurable.
    const relaxed = compareToProfile(tinyReference, syntheticSamples(REFERENCE_DISTRIBUTION, 50, 14), {
      minWindowSamples: 50,
      minReferenceSamples: 100,
    });
    expect(relaxed.insufficient).toBe(false);
    expect(relaxed.statistics.tokens.insufficient).toBe(false);
  });

  it('leaves the KS tests out of the family when the reservoir is too small', () => {
    const capped = buildProfile(syntheticSamples(REFERENCE_DISTRIBUTION, 1000, 15), { reservoirCap: 150 });
    const report = compareToProfile(capped, syntheticSamples(REFERENCE_DISTRIBUTION, 500, 16));
    expect(report.statistics.labelMix.insufficient).toBe(false);
    expect(report.statistics.confidence.insufficient).toBe(true);
    expect(report.correction).toEqual({ method: 'bonferroni', alpha: 0.01, tests: 2, testLevel: 0.005 });
  });

  it('reports every statistic with its value, p-value and corrected threshold', () => {
    const report = compareToProfile(reference, syntheticSamples(REFERENCE_DISTRIBUTION, 500, 17));
    expect(report.drifted).toBe(false);
    expect(report.reasons).toEqual([]);
    expect(report.thresholds).toEqual(DEFAULT_DRIFT_THRESHOLDS);
    // Bonferroni: alpha 0.01 over 5 tests → each at 0.002
    expect(report.correction).toEqual({ method: 'bonferroni', alpha: 0.01, tests: 5, testLevel: 0.002 });
    const { labelMix, confidence, truncation } = report.statistics;
    if (labelMix.insufficient || confidence.insufficient || truncation.insufficient)
      throw new Error('insufficient');
    expect(labelMix.threshold).toBe(0.1);
    expect(labelMix.pThreshold).toBe(0.002);
    expect(labelMix.value).toBeLessThan(0.1);
    expect(labelMix.degreesOfFreedom).toBe(2);
    expect(confidence.threshold).toBe(0.002);
    expect(confidence.pValue).toBeGreaterThan(0.002);
    expect(truncation.referenceShare).toBeCloseTo(reference.truncatedShare, 14);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it('needs both the JS distance and the chi-square p-value to flag the label mix', () => {
    const ref = buildProfile(
      samplesWith(
        [...Array(4).fill('negative'), ...Array(3).fill('neutral'), ...Array(3).fill('positive')],
        10_000,
      ),
    );
    // 45 / 28 / 27 % against 40 / 30 / 30 %: chi-square p is tiny with 10,000 samples, but the JS distance
    // is only about 0.04, so this is not a shift worth acting on.
    const mild = samplesWith(
      [...Array(45).fill('negative'), ...Array(28).fill('neutral'), ...Array(27).fill('positive')],
      10_000,
    );
    const mildReport = compareToProfile(ref, mild);
    const stat = mildReport.statistics.labelMix;
    if (stat.insufficient) throw new Error('insufficient');
    expect(stat.pValue).toBeLessThan(1e-6);
    expect(stat.value).toBeLessThan(0.1);
    expect(stat.drifted).toBe(false);
    // All negative: JS distance far above 0.1 and p tiny.
    const shifted = compareToProfile(ref, samplesWith(['negative'], 500));
    expect(shifted.statistics.labelMix.drifted).toBe(true);
    expect(shifted.reasons[0]).toMatch(/^label mix: JS distance 0\.\d+ >= 0\.1 and chi-square p/);
    // A lower JS threshold flags the mild shift too.
    expect(compareToProfile(ref, mild, { labelJsDistance: 0.03 }).statistics.labelMix.drifted).toBe(true);
  });

  it('flags truncation surges but not a single long text', () => {
    const ref = buildProfile(samplesWith(['neutral', 'positive'], 5000));
    const one = compareToProfile(ref, samplesWith(['neutral', 'positive'], 500, 500)); // 1 of 500 truncated
    expect(one.statistics.truncation).toMatchObject({ method: 'fisher', drifted: false });
    const surge = compareToProfile(ref, samplesWith(['neutral', 'positive'], 500, 25)); // 20 of 500
    expect(surge.statistics.truncation).toMatchObject({ value: 0.04, drifted: true });
    expect(surge.reasons).toEqual([expect.stringMatching(/^truncation: 4\.0% of inputs truncated vs 0\.0%/)]);
  });

  it('can use per-test levels without correction (Evidently-style p < 0.05)', () => {
    const report = compareToProfile(reference, syntheticSamples(REFERENCE_DISTRIBUTION, 500, 17), {
      alpha: 0.05,
      correction: 'none',
    });
    expect(report.correction.testLevel).toBe(0.05);
    expect(() => compareToProfile(reference, [], { alpha: 1 })).toThrow('alpha must be in (0, 1)');
    expect(() => compareToProfile(reference, [], { minWindowSamples: 0 })).toThrow('minWindowSamples');
  });

  it('names a malformed window sample', () => {
    const bad = [...syntheticSamples(REFERENCE_DISTRIBUTION, 3, 1), { label: 'positive' } as DriftSample];
    expect(() => compareToProfile(reference as ReferenceProfile, bad)).toThrow('window[3].scores');
  });
});
