import {
  chiSquareSurvival,
  kolmogorovSurvival,
  lnGamma,
  normalTwoSidedP,
  regularizedGammaP,
  regularizedGammaQ,
} from './special-functions';

// Expected values: scipy 1.17 (scipy.stats.chi2.sf, scipy.special.gammaincc / gammainc / kolmogorov) and
// closed forms where they exist.
describe('lnGamma', () => {
  it('matches known values', () => {
    expect(lnGamma(1)).toBeCloseTo(0, 13);
    expect(lnGamma(2)).toBeCloseTo(0, 13);
    expect(lnGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 13); // Γ(1/2) = sqrt(π)
    expect(lnGamma(10)).toBeCloseTo(Math.log(362_880), 12); // Γ(10) = 9!
    expect(lnGamma(100.5)).toBeCloseTo(361.4355404677776, 10);
    expect(lnGamma(1e-3)).toBeCloseTo(6.907178885383854, 12);
    expect(() => lnGamma(0)).toThrow(RangeError);
  });
});

describe('regularized incomplete gamma', () => {
  it.each([
    // a, x, Q(a, x); the first two use the series branch (x < a + 1), the others the continued fraction
    [0.5, 0.1, 0.6547208460185768],
    [10, 3, 0.9988975118698845],
    [3, 2.5, 0.5438131158833297],
    [2.5, 7, 0.01560941610026691],
  ])('Q(%p, %p) = %p', (a, x, q) => {
    expect(regularizedGammaQ(a, x)).toBeCloseTo(q, 12);
    expect(regularizedGammaP(a, x)).toBeCloseTo(1 - q, 12);
  });

  it('handles the ends and rejects bad arguments', () => {
    expect(regularizedGammaQ(3, 0)).toBe(1);
    expect(regularizedGammaQ(3, Infinity)).toBe(0);
    expect(() => regularizedGammaQ(0, 1)).toThrow(RangeError);
    expect(() => regularizedGammaQ(1, -1)).toThrow(RangeError);
  });
});

describe('chiSquareSurvival', () => {
  it('gives the textbook critical values', () => {
    expect(chiSquareSurvival(3.84, 1)).toBeCloseTo(0.05, 3);
    expect(chiSquareSurvival(5.99, 2)).toBeCloseTo(0.05, 3);
    expect(chiSquareSurvival(10, 3)).toBeCloseTo(0.01857, 5);
    expect(chiSquareSurvival(3.841458820694124, 1)).toBeCloseTo(0.05, 13);
    expect(chiSquareSurvival(5.991464547107979, 2)).toBeCloseTo(0.05, 13);
    expect(chiSquareSurvival(10, 3)).toBeCloseTo(0.01856613546304325, 13);
  });

  it('matches closed forms and scipy across the range', () => {
    expect(chiSquareSurvival(1, 2)).toBeCloseTo(Math.exp(-0.5), 14); // df 2: sf(x) = exp(-x/2)
    expect(chiSquareSurvival(0.5, 1)).toBeCloseTo(0.47950012218695337, 13);
    expect(chiSquareSurvival(30, 30)).toBeCloseTo(0.4656537089440098, 12);
    expect(chiSquareSurvival(200, 150)).toBeCloseTo(0.003973185970821635, 12);
    expect(chiSquareSurvival(1e-3, 5)).toBeCloseTo(0.9999999983185123, 14);
    // Deep tail: relative accuracy, because the continued fraction computes Q directly.
    expect(chiSquareSurvival(100, 10) / 5.4497019829205215e-17).toBeCloseTo(1, 9);
    expect(chiSquareSurvival(0, 3)).toBe(1);
  });
});

describe('normalTwoSidedP', () => {
  it('is the two-sided normal tail', () => {
    expect(normalTwoSidedP(1.959963984540054)).toBeCloseTo(0.05, 13);
    expect(normalTwoSidedP(-1.959963984540054)).toBeCloseTo(0.05, 13);
    expect(normalTwoSidedP(5) / 5.733031437583866e-7).toBeCloseTo(1, 9);
    expect(normalTwoSidedP(0)).toBe(1);
  });
});

describe('kolmogorovSurvival', () => {
  it.each([
    // both branches (below and above λ = 1.18) and the usual critical values
    [0.2, 0.999999999999495],
    [0.3, 0.9999906941986655],
    [0.5, 0.9639452436648751],
    [1.0, 0.26999967167735456],
    [1.18, 0.1234538094297657],
    [1.3580986393225505, 0.05],
    [1.6276236115189435, 0.01],
    [2.0, 0.0006709252557796953],
  ])('Q_KS(%p) = %p', (lambda, q) => {
    expect(kolmogorovSurvival(lambda)).toBeCloseTo(q, 13);
  });

  it('is 1 at 0 and tiny far out', () => {
    expect(kolmogorovSurvival(0)).toBe(1);
    expect(kolmogorovSurvival(3) / 3.045995948942526e-8).toBeCloseTo(1, 9);
  });
});
