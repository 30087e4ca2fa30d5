import { SENTIMENT_LABELS, SentimentLabel } from '@reputation-monitor/contracts';
import { DriftSample, SampleFeatures, sampleFeatures } from './features';
import { Reservoir, seededRandom } from './random';
import {
  chiSquareGoodnessOfFit,
  jensenShannonDistance,
  ksTwoSample,
  sortedCopy,
  twoProportionZTest,
} from './statistical-tests';

export const PROFILE_FORMAT_VERSION = 1;

/**
 * Reference values kept for the KS tests. 5,000 keeps a profile around 100 kB of JSON and costs little
 * power: against a window of 500, the KS effective size n·m/(n+m) is 455 with 5,000 reference values
 * and at most 500 with infinitely many. Label counts and the truncated share are exact over all samples.
 */
export const DEFAULT_RESERVOIR_CAP = 5_000;
/** Default seed of the reservoir, so the same reference stream always gives the same profile. */
export const DEFAULT_RESERVOIR_SEED = 20_240_601;

/** A model version's reference behaviour, as plain JSON (store it with `JSON.stringify`, read it with `parseProfile`). */
export interface ReferenceProfile {
  formatVersion: typeof PROFILE_FORMAT_VERSION;
  /** The model version the reference predictions came from (a profile is only valid for that version). */
  modelVersion: string | null;
  /** Samples in the reference. */
  count: number;
  /** Predicted-label counts over all samples. */
  labelCounts: Record<SentimentLabel, number>;
  truncatedCount: number;
  truncatedShare: number;
  /** The uniform sample of per-prediction values the KS tests compare against. */
  reservoir: { cap: number; seed: number; size: number };
  /** Reservoir values, each sorted ascending (the same `size` samples in each). */
  confidence: number[];
  entropy: number[];
  tokens: number[];
}

export interface BuildProfileOptions {
  modelVersion?: string | null;
  /** At most this many samples are kept for the KS tests (default 5,000). */
  reservoirCap?: number;
  /** Seed of the reservoir's sampling (default DEFAULT_RESERVOIR_SEED). */
  seed?: number;
}

/** Summarises reference predictions (any iterable, read once, so a long stream never sits in memory). */
export function buildProfile(
  samples: Iterable<DriftSample>,
  options: BuildProfileOptions = {},
): ReferenceProfile {
  const cap = options.reservoirCap ?? DEFAULT_RESERVOIR_CAP;
  const seed = options.seed ?? DEFAULT_RESERVOIR_SEED;
  const reservoir = new Reservoir<SampleFeatures>(cap, seededRandom(seed));
  const labelCounts = SENTIMENT_LABELS.map(() => 0);
  let truncatedCount = 0;
  let index = 0;
  for (const sample of samples) {
    const features = sampleFeatures(sample, `samples[${index}]`);
    labelCounts[features.labelIndex] += 1;
    if (features.truncated) truncatedCount += 1;
    reservoir.offer(features);
    index += 1;
  }
  const kept = reservoir.items;
  return {
    formatVersion: PROFILE_FORMAT_VERSION,
    modelVersion: options.modelVersion ?? null,
    count: index,
    labelCounts: countsByLabel(labelCounts),
    truncatedCount,
    truncatedShare: index === 0 ? 0 : truncatedCount / index,
    reservoir: { cap, seed, size: kept.length },
    confidence: sortedCopy(kept.map((f) => f.confidence)),
    entropy: sortedCopy(kept.map((f) => f.entropy)),
    tokens: sortedCopy(kept.map((f) => f.tokens)),
  };
}

function countsByLabel(counts: readonly number[]): Record<SentimentLabel, number> {
  return Object.fromEntries(SENTIMENT_LABELS.map((label, i) => [label, counts[i]])) as Record<
    SentimentLabel,
    number
  >;
}

/** Checks a profile read back from JSON; throws a RangeError listing every problem. */
export function parseProfile(value: unknown): ReferenceProfile {
  const problems: string[] = [];
  const p = (value ?? {}) as Partial<ReferenceProfile>;
  const isCount = (n: unknown) => Number.isInteger(n) && (n as number) >= 0;
  const isSorted = (a: unknown) =>
    Array.isArray(a) && a.every((x, i) => Number.isFinite(x) && (i === 0 || x >= a[i - 1]));
  if (typeof value !== 'object' || value === null) problems.push('profile is not an object');
  if (p.formatVersion !== PROFILE_FORMAT_VERSION) {
    problems.push(`formatVersion is ${JSON.stringify(p.formatVersion)}, expected ${PROFILE_FORMAT_VERSION}`);
  }
  if (p.modelVersion !== null && typeof p.modelVersion !== 'string')
    problems.push('modelVersion must be a string or null');
  if (!isCount(p.count)) problems.push('count must be a non-negative integer');
  const labelCounts = SENTIMENT_LABELS.map((label) => p.labelCounts?.[label]);
  if (!labelCounts.every(isCount))
    problems.push(`labelCounts needs a count for each of ${SENTIMENT_LABELS.join(', ')}`);
  else if (labelCounts.reduce((a, b) => (a as number) + (b as number), 0) !== p.count) {
    problems.push('labelCounts do not add up to count');
  }
  if (!isCount(p.truncatedCount) || (p.truncatedCount as number) > (p.count as number)) {
    problems.push('truncatedCount must be an integer in 0..count');
  }
  if (typeof p.truncatedShare !== 'number') problems.push('truncatedShare must be a number');
  const size = p.reservoir?.size;
  if (!isCount(size) || !isCount(p.reservoir?.cap) || !Number.isInteger(p.reservoir?.seed)) {
    problems.push('reservoir must have integer cap, seed and size');
  }
  for (const key of ['confidence', 'entropy', 'tokens'] as const) {
    if (!isSorted(p[key])) problems.push(`${key} must be an array of finite numbers sorted ascending`);
    else if ((p[key] as number[]).length !== size)
      problems.push(`${key} has ${p[key]?.length} values, reservoir.size is ${size}`);
  }
  if (problems.length > 0) throw new RangeError(`invalid drift profile:\n  - ${problems.join('\n  - ')}`);
  return value as ReferenceProfile;
}

export interface DriftThresholds {
  /**
   * The label mix counts as shifted only when its Jensen-Shannon distance (base 2) is at least this AND
   * its chi-square p-value is below the test level. 0.1 is Evidently's default threshold for its
   * `jensenshannon` stat test (`drift_score >= threshold`).
   */
  labelJsDistance: number;
  /**
   * Largest share of windows drawn from the reference distribution that may be reported as drifted, over
   * the p-value tests of one report (chi-square on labels, KS on confidence, entropy and tokens, z on
   * truncation). With 'bonferroni' each of the m tests that ran is flagged at p < alpha / m, which bounds
   * the family-wise rate by alpha whatever the tests' dependence.
   *
   * Default 0.01, not Evidently's per-test p < 0.05: five tests at 0.05 would flag about one clean window
   * in five, and even Bonferroni at 0.05 only bounds the rate by 5 %. `{ alpha: 0.05, correction: 'none' }`
   * gives Evidently's per-test behaviour.
   */
  alpha: number;
  correction: 'bonferroni' | 'none';
  /** Fewer window samples than this make every statistic `insufficient` (no number is reported). */
  minWindowSamples: number;
  /** Fewer reference samples (reservoir values, for the KS tests) than this make a statistic `insufficient`. */
  minReferenceSamples: number;
}

export const DEFAULT_DRIFT_THRESHOLDS: Readonly<DriftThresholds> = Object.freeze({
  labelJsDistance: 0.1,
  alpha: 0.01,
  correction: 'bonferroni',
  minWindowSamples: 100,
  minReferenceSamples: 200,
});

export interface InsufficientStatistic {
  insufficient: true;
  reason: string;
  drifted: false;
}

export interface LabelMixStatistic {
  insufficient: false;
  /** Jensen-Shannon distance (base 2) between reference and window label proportions. */
  value: number;
  threshold: number;
  /** Pearson chi-square of the window counts against the reference proportions. */
  chiSquare: number;
  degreesOfFreedom: number;
  pValue: number;
  /** Test level after correction. */
  pThreshold: number;
  reference: Record<SentimentLabel, number>;
  window: Record<SentimentLabel, number>;
  drifted: boolean;
}

export interface DistributionStatistic {
  insufficient: false;
  /** Two-sample KS statistic D. */
  value: number;
  pValue: number;
  /** Test level after correction. */
  threshold: number;
  referenceMean: number;
  windowMean: number;
  drifted: boolean;
}

export interface TruncationStatistic {
  insufficient: false;
  /** Share of truncated inputs in the window. */
  value: number;
  referenceShare: number;
  z: number;
  pValue: number;
  /** 'fisher' when expected counts are too small for the z-test's normal approximation. */
  method: 'z' | 'fisher';
  /** Test level after correction. */
  threshold: number;
  drifted: boolean;
}

export type Statistic<T> = T | InsufficientStatistic;

export interface DriftStatistics {
  labelMix: Statistic<LabelMixStatistic>;
  confidence: Statistic<DistributionStatistic>;
  entropy: Statistic<DistributionStatistic>;
  tokens: Statistic<DistributionStatistic>;
  truncation: Statistic<TruncationStatistic>;
}

export interface DriftReport {
  modelVersion: string | null;
  referenceCount: number;
  windowCount: number;
  /** True when any statistic drifted. */
  drifted: boolean;
  /** One line per drifted statistic. */
  reasons: string[];
  /** True when no statistic could be computed. */
  insufficient: boolean;
  correction: { method: DriftThresholds['correction']; alpha: number; tests: number; testLevel: number };
  thresholds: DriftThresholds;
  statistics: DriftStatistics;
}

function resolveThresholds(overrides: Partial<DriftThresholds>): DriftThresholds {
  const t = { ...DEFAULT_DRIFT_THRESHOLDS, ...overrides };
  const problems: string[] = [];
  if (!(t.labelJsDistance >= 0 && t.labelJsDistance <= 1)) problems.push('labelJsDistance must be in [0, 1]');
  if (!(t.alpha > 0 && t.alpha < 1)) problems.push('alpha must be in (0, 1)');
  if (t.correction !== 'bonferroni' && t.correction !== 'none')
    problems.push("correction must be 'bonferroni' or 'none'");
  for (const key of ['minWindowSamples', 'minReferenceSamples'] as const) {
    if (!Number.isInteger(t[key]) || t[key] < 1) problems.push(`${key} must be a positive integer`);
  }
  if (problems.length > 0) throw new RangeError(`invalid drift thresholds: ${problems.join('; ')}`);
  return t;
}

const fmt = (x: number) =>
  x === 0 ? '0' : Math.abs(x) >= 1e-3 && Math.abs(x) < 1e4 ? x.toFixed(3) : x.toExponential(2);
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const average = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/**
 * Compares a window of predictions with a reference profile. Each statistic reports its value, its
 * p-value where one applies, its threshold and whether it drifted; the report drifts when any does.
 */
export function compareToProfile(
  profile: ReferenceProfile,
  windowSamples: Iterable<DriftSample>,
  thresholds: Partial<DriftThresholds> = {},
): DriftReport {
  const t = resolveThresholds(thresholds);
  const features: SampleFeatures[] = [];
  let index = 0;
  for (const sample of windowSamples) features.push(sampleFeatures(sample, `window[${index++}]`));
  const n = features.length;

  const tooFew = (have: number, min: number, what: string): InsufficientStatistic | undefined =>
    have < min
      ? { insufficient: true, reason: `${what} has ${have} samples, fewer than ${min}`, drifted: false }
      : undefined;
  const windowShort = tooFew(n, t.minWindowSamples, 'window');
  const countShort = windowShort ?? tooFew(profile.count, t.minReferenceSamples, 'reference');
  const reservoirShort =
    windowShort ?? tooFew(profile.reservoir.size, t.minReferenceSamples, 'reference reservoir');

  // The family is the tests that actually run; they all run or none do unless the reservoir cap is tiny.
  const tests = (countShort ? 0 : 2) + (reservoirShort ? 0 : 3);
  const testLevel = t.correction === 'bonferroni' && tests > 0 ? t.alpha / tests : t.alpha;

  const labelMix = countShort ?? labelMixStatistic(profile, features, t.labelJsDistance, testLevel);
  const distribution = (key: 'confidence' | 'entropy' | 'tokens'): Statistic<DistributionStatistic> => {
    if (reservoirShort) return reservoirShort;
    const windowValues = sortedCopy(features.map((f) => f[key]));
    const ks = ksTwoSample(profile[key], windowValues);
    return {
      insufficient: false,
      value: ks.statistic,
      pValue: ks.pValue,
      threshold: testLevel,
      referenceMean: average(profile[key]),
      windowMean: average(windowValues),
      drifted: ks.pValue < testLevel,
    };
  };
  const statistics: DriftStatistics = {
    labelMix,
    confidence: distribution('confidence'),
    entropy: distribution('entropy'),
    tokens: distribution('tokens'),
    truncation: countShort ?? truncationStatistic(profile, features, testLevel),
  };

  const reasons: string[] = [];
  const s = statistics;
  if (s.labelMix.drifted) {
    reasons.push(
      `label mix: JS distance ${fmt(s.labelMix.value)} >= ${s.labelMix.threshold} and chi-square p ${fmt(s.labelMix.pValue)} < ${fmt(testLevel)}`,
    );
  }
  for (const key of ['confidence', 'entropy', 'tokens'] as const) {
    const stat = s[key];
    if (stat.drifted) {
      reasons.push(
        `${key}: KS D ${fmt(stat.value)}, p ${fmt(stat.pValue)} < ${fmt(testLevel)} (mean ${fmt(stat.windowMean)} vs reference ${fmt(stat.referenceMean)})`,
      );
    }
  }
  if (s.truncation.drifted) {
    reasons.push(
      `truncation: ${pct(s.truncation.value)} of inputs truncated vs ${pct(s.truncation.referenceShare)}, p ${fmt(s.truncation.pValue)} < ${fmt(testLevel)}`,
    );
  }
  return {
    modelVersion: profile.modelVersion,
    referenceCount: profile.count,
    windowCount: n,
    drifted: reasons.length > 0,
    reasons,
    insufficient: Object.values(statistics).every(
      (stat: Statistic<unknown>) => (stat as InsufficientStatistic).insufficient,
    ),
    correction: { method: t.correction, alpha: t.alpha, tests, testLevel },
    thresholds: t,
    statistics,
  };
}

function labelMixStatistic(
  profile: ReferenceProfile,
  features: readonly SampleFeatures[],
  jsThreshold: number,
  testLevel: number,
): LabelMixStatistic {
  const windowCounts = SENTIMENT_LABELS.map(() => 0);
  for (const f of features) windowCounts[f.labelIndex] += 1;
  const referenceCounts = SENTIMENT_LABELS.map((label) => profile.labelCounts[label]);
  const value = jensenShannonDistance(referenceCounts, windowCounts);
  const chi = chiSquareGoodnessOfFit(windowCounts, referenceCounts);
  const proportions = (counts: number[]) => {
    const total = counts.reduce((a, b) => a + b, 0);
    return countsByLabel(counts.map((c) => c / total));
  };
  return {
    insufficient: false,
    value,
    threshold: jsThreshold,
    chiSquare: chi.statistic,
    degreesOfFreedom: chi.degreesOfFreedom,
    pValue: chi.pValue,
    pThreshold: testLevel,
    reference: proportions(referenceCounts),
    window: proportions(windowCounts),
    drifted: value >= jsThreshold && chi.pValue < testLevel,
  };
}

function truncationStatistic(
  profile: ReferenceProfile,
  features: readonly SampleFeatures[],
  testLevel: number,
): TruncationStatistic {
  const truncated = features.filter((f) => f.truncated).length;
  const test = twoProportionZTest(truncated, features.length, profile.truncatedCount, profile.count);
  return {
    insufficient: false,
    value: test.first,
    referenceShare: test.second,
    z: test.z,
    pValue: test.pValue,
    method: test.method,
    threshold: testLevel,
    drifted: test.pValue < testLevel,
  };
}
