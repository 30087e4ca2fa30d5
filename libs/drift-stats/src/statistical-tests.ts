import { chiSquareSurvival, kolmogorovSurvival, lnGamma, normalTwoSidedP } from './special-functions';

// Module-level aliases: hot loops then skip global lookups, which are slow inside Jest's vm sandbox.
const { abs, max } = Math;
const finite = Number.isFinite;

function normalise(values: readonly number[], what: string): number[] {
  let total = 0;
  for (const value of values) {
    if (!(value >= 0) || !Number.isFinite(value)) throw new RangeError(`${what} must be finite and >= 0`);
    total += value;
  }
  if (total === 0) throw new RangeError(`${what} must not be all zero`);
  return values.map((value) => value / total);
}

/**
 * Jensen-Shannon distance between two distributions over the same categories, given as counts or
 * proportions (each is normalised): the square root of the JS divergence in base 2, so it lies in [0, 1].
 * Empty categories need no smoothing: 0 · log 0 is taken as 0.
 *
 * Evidently computes the same statistic with scipy's `jensenshannon`, whose default base is e
 * (range [0, sqrt(ln 2)] ≈ [0, 0.833]); base 2 values are larger by 1 / sqrt(ln 2) ≈ 1.2, so the same
 * 0.1 threshold is slightly more sensitive here.
 */
export function jensenShannonDistance(p: readonly number[], q: readonly number[]): number {
  if (p.length !== q.length)
    throw new RangeError(`distributions differ in length (${p.length} vs ${q.length})`);
  const pn = normalise(p, 'first distribution');
  const qn = normalise(q, 'second distribution');
  let divergence = 0;
  for (let i = 0; i < pn.length; i += 1) {
    const m = (pn[i] + qn[i]) / 2;
    if (pn[i] > 0) divergence += 0.5 * pn[i] * Math.log2(pn[i] / m);
    if (qn[i] > 0) divergence += 0.5 * qn[i] * Math.log2(qn[i] / m);
  }
  return Math.sqrt(Math.min(1, Math.max(0, divergence)));
}

export interface ChiSquareResult {
  statistic: number;
  degreesOfFreedom: number;
  pValue: number;
}

/**
 * Pearson's chi-square goodness-of-fit test of observed counts against expected proportions
 * (normalised): Σ (O - E)² / E with E = n · p, and k - 1 degrees of freedom for the k categories whose
 * expected proportion is above zero. A count in a category the expected distribution rules out makes
 * the statistic infinite (p = 0).
 *
 * The expected proportions are treated as known. When they come from a reference sample, that sample
 * should be several times larger than the observed one, or the test rejects too often.
 */
export function chiSquareGoodnessOfFit(
  observed: readonly number[],
  expectedProportions: readonly number[],
): ChiSquareResult {
  if (observed.length !== expectedProportions.length) {
    throw new RangeError(
      `observed and expected differ in length (${observed.length} vs ${expectedProportions.length})`,
    );
  }
  const expected = normalise(expectedProportions, 'expected proportions');
  let n = 0;
  for (const count of observed) {
    if (!(count >= 0) || !Number.isFinite(count))
      throw new RangeError('observed counts must be finite and >= 0');
    n += count;
  }
  let statistic = 0;
  let categories = 0;
  for (let i = 0; i < observed.length; i += 1) {
    if (expected[i] === 0) {
      if (observed[i] > 0) statistic = Infinity;
      continue;
    }
    categories += 1;
    const e = n * expected[i];
    if (e > 0) statistic += (observed[i] - e) ** 2 / e;
  }
  const degreesOfFreedom = categories - 1;
  if (statistic === Infinity) return { statistic, degreesOfFreedom, pValue: 0 };
  if (degreesOfFreedom < 1 || n === 0) return { statistic: 0, degreesOfFreedom, pValue: 1 };
  return { statistic, degreesOfFreedom, pValue: chiSquareSurvival(statistic, degreesOfFreedom) };
}

export interface KsResult {
  /** Largest absolute difference between the two empirical CDFs. */
  statistic: number;
  /** Effective sample size n·m / (n + m). */
  effectiveSize: number;
  pValue: number;
}

function checkSorted(values: readonly number[], what: string): void {
  for (let i = 0; i < values.length; i += 1) {
    if (!finite(values[i])) throw new RangeError(`${what}[${i}] is not a finite number`);
    if (i > 0 && values[i] < values[i - 1]) throw new RangeError(`${what} must be sorted ascending`);
  }
}

/** Ascending copy, for `ksTwoSample`. */
export function sortedCopy(values: readonly number[]): number[] {
  return Array.from(Float64Array.from(values).sort());
}

/**
 * Two-sample Kolmogorov-Smirnov test on two samples sorted ascending (use `sortedCopy`).
 * D handles ties (both CDFs step past a repeated value before they are compared), so ordinal data
 * such as token counts are fine; with ties the test is conservative.
 * The p-value is asymptotic with Stephens' small-sample correction (Numerical Recipes §14.3.3):
 * Q_KS((sqrt(ne) + 0.12 + 0.11 / sqrt(ne)) · D) with ne = n·m / (n + m).
 */
export function ksTwoSample(a: readonly number[], b: readonly number[]): KsResult {
  if (a.length === 0 || b.length === 0) throw new RangeError('both samples must be non-empty');
  checkSorted(a, 'first sample');
  checkSorted(b, 'second sample');
  const n = a.length;
  const m = b.length;
  let i = 0;
  let j = 0;
  let statistic = 0;
  while (i < n && j < m) {
    const value = a[i] < b[j] ? a[i] : b[j];
    while (i < n && a[i] === value) i += 1;
    while (j < m && b[j] === value) j += 1;
    statistic = max(statistic, abs(i / n - j / m));
  }
  const effectiveSize = (n * m) / (n + m);
  const root = Math.sqrt(effectiveSize);
  const pValue = kolmogorovSurvival((root + 0.12 + 0.11 / root) * statistic);
  return { statistic, effectiveSize, pValue };
}

export interface TwoProportionResult {
  first: number;
  second: number;
  /** Continuity-corrected z (reported even when the p-value is Fisher's). */
  z: number;
  pValue: number;
  /** Where the p-value comes from: the normal approximation, or Fisher's exact test when that is unsafe. */
  method: 'z' | 'fisher';
}

/**
 * Smallest expected cell count of the 2×2 table for which the normal approximation is used (the usual
 * rule of thumb); below it the p-value is Fisher's exact test.
 */
export const MIN_EXPECTED_COUNT_FOR_Z = 5;

/**
 * Two-sided comparison of the proportions x1/n1 and x2/n2: a pooled two-proportion z-test with Yates'
 * continuity correction (|p1 - p2| reduced by (1/n1 + 1/n2) / 2). Rare events break the normal
 * approximation: 4 of 500 against 8 of 10,000 gives z ≈ 4 (p ≈ 7e-5) where the exact p is about 0.002.
 * So when an expected cell count of the 2×2 table is below MIN_EXPECTED_COUNT_FOR_Z the p-value is
 * Fisher's exact test instead. When neither sample has a success (or both are all successes) there is
 * nothing to compare: z = 0, p = 1.
 */
export function twoProportionZTest(x1: number, n1: number, x2: number, n2: number): TwoProportionResult {
  for (const [x, n, which] of [
    [x1, n1, 'first'],
    [x2, n2, 'second'],
  ] as const) {
    if (!Number.isInteger(n) || n < 1)
      throw new RangeError(`${which} sample size must be a positive integer`);
    if (!Number.isInteger(x) || x < 0 || x > n)
      throw new RangeError(`${which} count must be an integer in 0..${n}`);
  }
  const first = x1 / n1;
  const second = x2 / n2;
  const pooled = (x1 + x2) / (n1 + n2);
  const spread = 1 / n1 + 1 / n2;
  const se = Math.sqrt(pooled * (1 - pooled) * spread);
  if (se === 0) return { first, second, z: 0, pValue: 1, method: 'z' };
  const difference = first - second;
  const corrected = Math.max(0, Math.abs(difference) - spread / 2);
  const z = (Math.sign(difference) * corrected) / se;
  const smallestExpected = Math.min(n1, n2) * Math.min(pooled, 1 - pooled);
  if (smallestExpected < MIN_EXPECTED_COUNT_FOR_Z) {
    return { first, second, z, pValue: fisherExactTwoSided(x1, n1, x2, n2), method: 'fisher' };
  }
  return { first, second, z, pValue: normalTwoSidedP(z), method: 'z' };
}

const lnChoose = (n: number, k: number) => lnGamma(n + 1) - lnGamma(k + 1) - lnGamma(n - k + 1);

/**
 * Fisher's exact test of the 2×2 table [[x1, n1 - x1], [x2, n2 - x2]], two-sided: the probability, given
 * the margins, of every table no more likely than the observed one (with R's relative tolerance 1e-7).
 */
export function fisherExactTwoSided(x1: number, n1: number, x2: number, n2: number): number {
  const successes = x1 + x2;
  const total = n1 + n2;
  const lnDenominator = lnChoose(total, n1);
  const lnP = (x: number) => lnChoose(successes, x) + lnChoose(total - successes, n1 - x) - lnDenominator;
  const observed = lnP(x1);
  let pValue = 0;
  for (let x = Math.max(0, successes - n2); x <= Math.min(successes, n1); x += 1) {
    const lp = lnP(x);
    if (lp <= observed + 1e-7) pValue += Math.exp(lp);
  }
  return Math.min(1, pValue);
}
