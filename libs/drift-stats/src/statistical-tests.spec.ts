import {
  chiSquareGoodnessOfFit,
  fisherExactTwoSided,
  jensenShannonDistance,
  ksTwoSample,
  sortedCopy,
  twoProportionZTest,
} from './statistical-tests';
import { kolmogorovSurvival } from './special-functions';

describe('jensenShannonDistance', () => {
  it('is 0 for equal distributions and 1 for disjoint ones (base 2)', () => {
    expect(jensenShannonDistance([1, 2, 3], [2, 4, 6])).toBe(0); // counts are normalised
    expect(jensenShannonDistance([1, 0], [0, 1])).toBeCloseTo(1, 14);
  });

  it('matches a hand computation', () => {
    // p = (1/2, 1/2), q = (1, 0), m = (3/4, 1/4)
    // KL(p‖m) = ½·log2(½ / ¾) + ½·log2(½ / ¼) = ½·(-0.5849625) + ½·1 = 0.2075187
    // KL(q‖m) = 1·log2(1 / ¾) = 0.4150375
    // JSD = ½·(0.2075187 + 0.4150375) = 0.3112781; distance = sqrt(JSD) = 0.5579230 (scipy, base=2: same)
    expect(jensenShannonDistance([0.5, 0.5], [1, 0])).toBeCloseTo(0.5579230452841438, 12);
    expect(jensenShannonDistance([1, 0], [0.5, 0.5])).toBeCloseTo(0.5579230452841438, 12); // symmetric
  });

  it('rejects mismatched or empty distributions', () => {
    expect(() => jensenShannonDistance([1, 2], [1, 2, 3])).toThrow(RangeError);
    expect(() => jensenShannonDistance([0, 0], [1, 1])).toThrow('must not be all zero');
    expect(() => jensenShannonDistance([-1, 2], [1, 1])).toThrow(RangeError);
  });
});

describe('chiSquareGoodnessOfFit', () => {
  it('matches a hand computation', () => {
    // n = 100, expected = 100 · (0.2, 0.5, 0.3) = (20, 50, 30)
    // X² = (30-20)²/20 + (50-50)²/50 + (20-30)²/30 = 5 + 0 + 3.3333 = 8.3333, df = 3 - 1 = 2
    // with 2 df the tail is exp(-X²/2) = exp(-4.16667) = 0.0155039
    const result = chiSquareGoodnessOfFit([30, 50, 20], [0.2, 0.5, 0.3]);
    expect(result.statistic).toBeCloseTo(8.333333333333334, 12);
    expect(result.degreesOfFreedom).toBe(2);
    expect(result.pValue).toBeCloseTo(Math.exp(-8.333333333333334 / 2), 14);
  });

  it('takes reference counts as proportions and handles empty categories', () => {
    expect(chiSquareGoodnessOfFit([30, 50, 20], [200, 500, 300]).statistic).toBeCloseTo(8.3333333, 6);
    // A category the reference never saw and the window did not either: dropped, df = 1.
    expect(chiSquareGoodnessOfFit([40, 60, 0], [1, 1, 0])).toMatchObject({ degreesOfFreedom: 1 });
    // A count where the reference has none is impossible under it.
    expect(chiSquareGoodnessOfFit([40, 60, 1], [1, 1, 0])).toMatchObject({ statistic: Infinity, pValue: 0 });
    expect(chiSquareGoodnessOfFit([5, 0, 0], [1, 0, 0])).toMatchObject({ degreesOfFreedom: 0, pValue: 1 });
  });
});

describe('ksTwoSample', () => {
  it('computes D with ties by hand', () => {
    // a = 1 2 2 3, b = 2 3 3 4 5; both CDFs step past each distinct value before comparing:
    //   after 1: Fa = 1/4, Fb = 0/5 → 0.25
    //   after 2: Fa = 3/4, Fb = 1/5 → 0.55
    //   after 3: Fa = 4/4, Fb = 3/5 → 0.40
    // D = 0.55 (scipy ks_2samp: same)
    const result = ksTwoSample([1, 2, 2, 3], [2, 3, 3, 4, 5]);
    expect(result.statistic).toBeCloseTo(0.55, 14);
    // ne = 4·5/9 = 2.2222, λ = (sqrt(ne) + 0.12 + 0.11/sqrt(ne)) · D = (1.490712 + 0.12 + 0.073790) · 0.55 = 0.926476
    expect(result.effectiveSize).toBeCloseTo(20 / 9, 14);
    expect(result.pValue).toBeCloseTo(kolmogorovSurvival(0.9264762255415441), 12);
    expect(result.pValue).toBeCloseTo(0.357227109881702, 10);
  });

  it('gives D = 0 and p = 1 for identical samples and D = 1 for disjoint ones', () => {
    expect(ksTwoSample([1, 2, 3], [1, 2, 3])).toMatchObject({ statistic: 0, pValue: 1 });
    expect(ksTwoSample([1, 2, 3], [4, 5]).statistic).toBe(1);
  });

  it('needs sorted, finite, non-empty samples', () => {
    expect(sortedCopy([3, -1, 10, 2])).toEqual([-1, 2, 3, 10]);
    expect(() => ksTwoSample([2, 1], [1, 2])).toThrow('sorted');
    expect(() => ksTwoSample([1, NaN], [1, 2])).toThrow('finite');
    expect(() => ksTwoSample([], [1])).toThrow('non-empty');
  });
});

describe('twoProportionZTest', () => {
  it('matches a hand computation when counts are large enough', () => {
    // 60/500 = 0.12 against 400/5000 = 0.08; pooled = 460/5500 = 0.0836364
    // se = sqrt(0.0836364 · 0.9163636 · (1/500 + 1/5000)) = sqrt(0.0766276 · 0.0022) = 0.0129850
    // Yates: |0.12 - 0.08| - ½·0.0022 = 0.0389; z = 0.0389 / 0.0129850 = 2.99576; two-sided p = 0.0027376
    const result = twoProportionZTest(60, 500, 400, 5000);
    expect(result.method).toBe('z');
    expect(result.z).toBeCloseTo(2.995758266235286, 10);
    expect(result.pValue).toBeCloseTo(0.002737633626975589, 12);
  });

  it('uses Fisher when an expected count is under 5 (scipy fisher_exact values)', () => {
    // ln Γ of numbers near 10,000 leaves about 11 significant digits in the hypergeometric terms.
    // One truncated input in 500 against none in 5,000: not evidence of anything (p = 500/5500).
    const one = twoProportionZTest(1, 500, 0, 5000);
    expect(one.method).toBe('fisher');
    expect(one.pValue).toBeCloseTo(0.09090909090909091, 9);
    expect(twoProportionZTest(4, 500, 8, 10_000).pValue).toBeCloseTo(0.0018518929080884414, 9);
    expect(twoProportionZTest(3, 500, 0, 5000).pValue).toBeCloseTo(0.0007472204480013895, 9);
    expect(fisherExactTwoSided(0, 500, 40, 10_000)).toBeCloseTo(0.2625931059594374, 9);
  });

  it('has nothing to compare when both samples agree completely', () => {
    expect(twoProportionZTest(0, 500, 0, 5000)).toMatchObject({ z: 0, pValue: 1 });
    expect(twoProportionZTest(500, 500, 5000, 5000)).toMatchObject({ z: 0, pValue: 1 });
    expect(() => twoProportionZTest(6, 5, 0, 5)).toThrow(RangeError);
  });
});
