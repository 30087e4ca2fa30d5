import {
  PairedPredictions,
  mcnemarExactTest,
  pairedBootstrapInterval,
  pairedMacroRecallTest,
} from './paired-comparison';
import { qualityMetrics, zipLabels } from './quality';
import { Random, seededRandom } from './random';
import { normalTwoSidedP } from './special-functions';

/** [true class, champion right?, candidate right?, how many]; a wrong prediction is the next class. */
type Row = [truth: number, championRight: boolean, candidateRight: boolean, count: number];

function build(
  rows: Row[],
): PairedPredictions & { truth: number[]; champion: number[]; candidate: number[] } {
  const truth: number[] = [];
  const champion: number[] = [];
  const candidate: number[] = [];
  for (const [t, championRight, candidateRight, count] of rows) {
    for (let i = 0; i < count; i += 1) {
      truth.push(t);
      champion.push(championRight ? t : (t + 1) % 3);
      candidate.push(candidateRight ? t : (t + 2) % 3);
    }
  }
  return { truth, champion, candidate };
}

/** A noisy classifier: right with probability recall[t], otherwise one of the other two classes. */
function predict(random: Random, t: number, recall: readonly number[]): number {
  return random() < recall[t] ? t : (t + 1 + Math.floor(random() * 2)) % 3;
}

function simulate(
  random: Random,
  n: number,
  championRecall: readonly number[],
  candidateRecall: readonly number[],
  mix: readonly number[] = [0.2, 0.45, 0.35],
): PairedPredictions {
  const truth: number[] = [];
  const champion: number[] = [];
  const candidate: number[] = [];
  for (let i = 0; i < n; i += 1) {
    const u = random();
    const t = u < mix[0] ? 0 : u < mix[0] + mix[1] ? 1 : 2;
    truth.push(t);
    champion.push(predict(random, t, championRecall));
    candidate.push(predict(random, t, candidateRecall));
  }
  return { truth, champion, candidate };
}

const macroRecall = (truth: number[], predicted: number[]) =>
  qualityMetrics(zipLabels(truth, predicted)).macroRecall;

/** Monte Carlo standard error of a p-value estimated from `draws` permutations. */
const monteCarloSe = (p: number, draws: number) => Math.sqrt((p * (1 - p)) / draws);

describe('pairedMacroRecallTest', () => {
  it('reports macro recalls exactly as qualityMetrics computes them (absent classes count 0)', () => {
    const input = build([
      [0, true, false, 3],
      [0, false, true, 1],
      [1, true, true, 5],
      [1, false, false, 2],
      [1, false, true, 2],
    ]); // no positive examples: that class's recall is 0 for both
    const result = pairedMacroRecallTest(input);
    expect(result.count).toBe(13);
    expect(result.championMacroRecall).toBeCloseTo(macroRecall(input.truth, input.champion), 15);
    expect(result.candidateMacroRecall).toBeCloseTo(macroRecall(input.truth, input.candidate), 15);
    // champion: (3/4 + 5/9 + 0) / 3; candidate: (1/4 + 7/9 + 0) / 3
    expect(result.championMacroRecall).toBeCloseTo((3 / 4 + 5 / 9) / 3, 14);
    expect(result.candidateMacroRecall).toBeCloseTo((1 / 4 + 7 / 9) / 3, 14);
    expect(result.difference).toBeCloseTo((1 / 4 + 7 / 9 - 3 / 4 - 5 / 9) / 3, 14);
    expect(result.discordant).toBe(6);
  });

  it('matches a hand enumeration of the 8 sign patterns of 3 discordant examples', () => {
    // ex0 true neg:  champion wrong, candidate right → +1/(3·2) = +1/6 (2 negatives)
    // ex1 true neg:  both right                       → 0 whatever the swap
    // ex2 true neu:  champion wrong, candidate right → +1/(3·1) = +1/3
    // ex3 true pos:  champion right, candidate wrong → −1/(3·1) = −1/3
    // observed = 1/6 + 1/3 − 1/3 = 1/6 (champion (1/2 + 0 + 1)/3 = 1/2, candidate (1 + 1 + 0)/3 = 2/3)
    const input = { truth: [0, 0, 1, 2], champion: [1, 0, 0, 2], candidate: [0, 0, 1, 0] };
    // sign pattern (ex0, ex2, ex3) → ±1/6 ± 1/3 ± 1/3:
    //   + + +  5/6    >= 1/6 ✓   |.| ✓
    //   + + −  1/6    tie    ✓         ✓
    //   + − +  1/6    tie    ✓         ✓
    //   + − −  −1/2                    ✓
    //   − + +  1/2           ✓         ✓
    //   − + −  −1/6                    ✓ (|−1/6| = 1/6, a tie)
    //   − − +  −1/6                    ✓
    //   − − −  −5/6                    ✓
    // greater: 4 of 8 = 0.5; two-sided: 8 of 8 = 1.
    const greater = pairedMacroRecallTest(input);
    expect(greater).toMatchObject({
      method: 'exact',
      discordant: 3,
      permutations: 8,
      alternative: 'greater',
    });
    expect(greater.difference).toBeCloseTo(1 / 6, 15);
    expect(greater.championMacroRecall).toBeCloseTo(1 / 2, 15);
    expect(greater.candidateMacroRecall).toBeCloseTo(2 / 3, 15);
    expect(greater.pValue).toBe(4 / 8);
    expect(pairedMacroRecallTest(input, { alternative: 'two-sided' }).pValue).toBe(1);

    // Swapping the roles turns the observed −1/6: patterns >= −1/6 are all but −1/2 and −5/6.
    const swapped = { ...input, champion: input.candidate, candidate: input.champion };
    expect(pairedMacroRecallTest(swapped).pValue).toBe(6 / 8);
  });

  describe('with 14 discordant examples', () => {
    // classes of 10, 30 and 20 examples; weights 1/30, 1/90, 1/60
    const input = build([
      [0, false, true, 3],
      [0, true, false, 1],
      [0, true, true, 6],
      [1, false, true, 4],
      [1, true, false, 2],
      [1, true, true, 20],
      [1, false, false, 4],
      [2, false, true, 2],
      [2, true, false, 2],
      [2, true, true, 16],
    ]);

    /** Brute force over the raw per-example contributions, independent of the library's bookkeeping. */
    function bruteForceP(alternative: 'greater' | 'two-sided'): number {
      const support = [0, 0, 0];
      input.truth.forEach((t) => (support[t] += 1));
      const contributions: number[] = [];
      input.truth.forEach((t, i) => {
        const championRight = input.champion[i] === t;
        const candidateRight = input.candidate[i] === t;
        if (championRight !== candidateRight)
          contributions.push((candidateRight ? 1 : -1) / (3 * support[t]));
      });
      const observed = contributions.reduce((a, b) => a + b, 0);
      const magnitudes = contributions.map(Math.abs);
      let hits = 0;
      for (let mask = 0; mask < 2 ** magnitudes.length; mask += 1) {
        let sum = 0;
        magnitudes.forEach((m, j) => (sum += mask & (1 << j) ? m : -m));
        if (alternative === 'greater' ? sum >= observed - 1e-12 : Math.abs(sum) >= Math.abs(observed) - 1e-12)
          hits += 1;
      }
      return hits / 2 ** magnitudes.length;
    }

    it('enumerates all 2^14 patterns exactly', () => {
      const result = pairedMacroRecallTest(input);
      expect(result).toMatchObject({ method: 'exact', discordant: 14, permutations: 16384 });
      expect(result.difference).toBeCloseTo(2 / 30 + 2 / 90, 14);
      expect(result.pValue).toBe(bruteForceP('greater'));
      expect(pairedMacroRecallTest(input, { alternative: 'two-sided' }).pValue).toBe(
        bruteForceP('two-sided'),
      );
      expect(result.pValue).toBeGreaterThan(0.05); // a moderate p, so the Monte Carlo check below is informative
      expect(result.pValue).toBeLessThan(0.5);
    });

    it('agrees with Monte Carlo within a few standard errors', () => {
      const draws = 20_000;
      for (const alternative of ['greater', 'two-sided'] as const) {
        const exact = pairedMacroRecallTest(input, { alternative }).pValue;
        const sampled = pairedMacroRecallTest(input, {
          alternative,
          method: 'monte-carlo',
          permutations: draws,
        });
        expect(sampled).toMatchObject({ method: 'monte-carlo', permutations: draws });
        expect(Math.abs(sampled.pValue - exact)).toBeLessThan(4 * monteCarloSe(exact, draws));
      }
    });
  });

  it('gives difference 0 and p = 1 for identical predictions', () => {
    const input = simulate(seededRandom(1), 500, [0.6, 0.7, 0.8], [0.6, 0.7, 0.8]);
    const same = { ...input, candidate: input.champion };
    for (const method of ['auto', 'monte-carlo'] as const) {
      for (const alternative of ['greater', 'two-sided'] as const) {
        const result = pairedMacroRecallTest(same, { method, alternative });
        expect(result.difference).toBe(0);
        expect(result.discordant).toBe(0);
        expect(result.pValue).toBe(1);
      }
    }
  });

  it('finds a clearly better candidate on 2,000 examples', () => {
    const input = simulate(seededRandom(2), 2000, [0.55, 0.7, 0.65], [0.7, 0.75, 0.75]);
    const result = pairedMacroRecallTest(input);
    expect(result.method).toBe('monte-carlo');
    expect(result.difference).toBeGreaterThan(0.05);
    expect(result.pValue).toBeLessThan(0.001);
    // ... and a clearly worse one is not "better"; two-sided, the roles do not matter (same draws, |T|)
    const swapped = { ...input, champion: input.candidate, candidate: input.champion };
    expect(pairedMacroRecallTest(swapped).pValue).toBeGreaterThan(0.99);
    expect(pairedMacroRecallTest(swapped, { alternative: 'two-sided' }).pValue).toBe(
      pairedMacroRecallTest(input, { alternative: 'two-sided' }).pValue,
    );
    expect(pairedMacroRecallTest(input, { alternative: 'two-sided' }).pValue).toBeLessThan(0.001);
  });

  it('is reproducible from its seed, and another seed gives a close p', () => {
    const input = simulate(seededRandom(3), 2000, [0.6, 0.7, 0.7], [0.62, 0.71, 0.71]);
    const draws = 10_000;
    const first = pairedMacroRecallTest(input, { seed: 11 });
    expect(first.pValue).toBeGreaterThan(0.01); // a p in the middle, where sampling noise shows
    expect(first.pValue).toBeLessThan(0.5);
    expect(pairedMacroRecallTest(input, { seed: 11 }).pValue).toBe(first.pValue);
    const other = pairedMacroRecallTest(input, { seed: 12 });
    expect(other.pValue).not.toBe(first.pValue);
    expect(Math.abs(other.pValue - first.pValue)).toBeLessThan(
      4 * Math.SQRT2 * monteCarloSe(first.pValue, draws),
    );
  });

  it('rejects about 5 % of datasets at 0.05 when both models are the same noisy classifier', () => {
    const random = seededRandom(4);
    const datasets = 300;
    let greater = 0;
    let twoSided = 0;
    for (let k = 0; k < datasets; k += 1) {
      const input = simulate(random, 200, [0.55, 0.75, 0.65], [0.55, 0.75, 0.65]);
      const seed = 1000 + k;
      if (pairedMacroRecallTest(input, { permutations: 999, seed }).pValue <= 0.05) greater += 1;
      const p = pairedMacroRecallTest(input, { permutations: 999, seed, alternative: 'two-sided' }).pValue;
      if (p <= 0.05) twoSided += 1;
    }
    expect(greater / datasets).toBeGreaterThanOrEqual(0.02);
    expect(greater / datasets).toBeLessThanOrEqual(0.09);
    expect(twoSided / datasets).toBeGreaterThanOrEqual(0.02);
    expect(twoSided / datasets).toBeLessThanOrEqual(0.09);
  });

  it('sees a macro-recall gain that McNemar cannot (minority hits traded for majority hits)', () => {
    // 100 negative, 1,000 neutral, 100 positive. The candidate gets 20 more negatives and 20 more positives
    // right, and 40 fewer neutrals: b = c = 40, accuracy unchanged (920 / 1,200 for both), but macro recall
    // goes from (0.6 + 0.8 + 0.6) / 3 = 0.6667 to (0.8 + 0.76 + 0.8) / 3 = 0.7867.
    const input = build([
      [0, true, true, 60],
      [0, false, true, 20],
      [0, false, false, 20],
      [1, true, true, 760],
      [1, true, false, 40],
      [1, false, false, 200],
      [2, true, true, 60],
      [2, false, true, 20],
      [2, false, false, 20],
    ]);
    const mcnemar = mcnemarExactTest(input);
    expect(mcnemar).toMatchObject({ b: 40, c: 40, pValue: 1 });
    expect(mcnemar.candidateAccuracy).toBe(mcnemar.championAccuracy);

    const result = pairedMacroRecallTest(input);
    expect(result.championMacroRecall).toBeCloseTo(2 / 3, 12);
    expect(result.candidateMacroRecall).toBeCloseTo(2.36 / 3, 12);
    expect(result.pValue).toBeLessThan(0.01);
    // z ≈ 5.7: no sign-flip draw reaches it, and the Monte Carlo p is (1 + 0) / (1 + 10,000), never 0
    expect(result).toMatchObject({ method: 'monte-carlo', permutations: 10_000 });
    expect(result.pValue).toBe(1 / 10_001);
    expect(pairedMacroRecallTest(input, { alternative: 'two-sided' }).pValue).toBeLessThan(0.01);
  });

  it('runs the requested number of permutations over many discordant examples', () => {
    const input = simulate(seededRandom(5), 10_000, [0.6, 0.7, 0.7], [0.6, 0.7, 0.7]);
    const result = pairedMacroRecallTest(input, { permutations: 10_000 });
    expect(result.discordant).toBeGreaterThan(3000);
    expect(result).toMatchObject({ method: 'monte-carlo', permutations: 10_000 });
  });

  it('validates its input and options', () => {
    const ok = { truth: [0, 1, 2], champion: [0, 1, 1], candidate: [0, 2, 2] };
    expect(() => pairedMacroRecallTest({ ...ok, candidate: [0, 1] })).toThrow(/differ in length \(3, 3, 2\)/);
    expect(() => pairedMacroRecallTest({ truth: [], champion: [], candidate: [] })).toThrow(/empty/);
    expect(() => pairedMacroRecallTest({ ...ok, champion: [0, 3, 1] })).toThrow(
      'champion[1] is not a label index',
    );
    expect(() => pairedMacroRecallTest({ ...ok, truth: [0, 1, 1.5] })).toThrow(
      'truth[2] is not a label index',
    );
    expect(() => pairedMacroRecallTest({ ...ok, candidate: [-1, 1, 1] })).toThrow(
      'candidate[0] is not a label index',
    );
    expect(() => pairedMacroRecallTest({ ...ok, truth: undefined as unknown as number[] })).toThrow(
      'truth must be an array',
    );
    for (const bad of [0, -5, 1.5, NaN]) {
      expect(() => pairedMacroRecallTest(ok, { permutations: bad })).toThrow(RangeError);
    }
    expect(() => pairedMacroRecallTest(ok, { seed: 0.5 })).toThrow('seed must be an integer');
    expect(() => pairedMacroRecallTest(ok, { alternative: 'less' as 'greater' })).toThrow(RangeError);
    expect(() => pairedMacroRecallTest(ok, { method: 'bootstrap' as 'exact' })).toThrow(RangeError);
    const many = simulate(seededRandom(6), 500, [0.6, 0.7, 0.7], [0.6, 0.7, 0.7]);
    expect(() => pairedMacroRecallTest(many, { method: 'exact' })).toThrow(/at most 24 discordant/);
    expect(() => mcnemarExactTest({ ...ok, truth: [0, 1] })).toThrow(RangeError);
    expect(() => pairedBootstrapInterval({ ...ok, truth: [0, 1, 7] })).toThrow('truth[2]');
  });
});

describe('mcnemarExactTest', () => {
  /** b examples only the champion gets right, c only the candidate, plus some both get right. */
  const withCounts = (b: number, c: number) =>
    build([
      [0, true, false, b],
      [1, false, true, c],
      [2, true, true, 5],
    ]);

  /** 2·P(X <= min(b, c)) for X ~ Binomial(b + c, 1/2), in exact integer arithmetic. */
  function exactP(b: number, c: number): number {
    const m = b + c;
    let coefficient = 1n;
    let tail = 0n;
    for (let k = 0; k <= Math.min(b, c); k += 1) {
      tail += coefficient;
      coefficient = (coefficient * BigInt(m - k)) / BigInt(k + 1);
    }
    return Math.min(1, Number(2n * tail) / 2 ** m);
  }

  it('matches known values', () => {
    // b = 1, c = 9: 2·(C(10,0) + C(10,1)) / 2^10 = 2·11/1024
    const result = mcnemarExactTest(withCounts(1, 9));
    expect(result).toMatchObject({ b: 1, c: 9 });
    expect(result.pValue).toBeCloseTo(0.021484375, 12);
    expect(mcnemarExactTest(withCounts(9, 1)).pValue).toBeCloseTo(0.021484375, 12);
    expect(result.championAccuracy).toBeCloseTo(6 / 15, 15);
    expect(result.candidateAccuracy).toBeCloseTo(14 / 15, 15);
    // b = 0, c = 5: 2 / 32
    expect(mcnemarExactTest(withCounts(0, 5)).pValue).toBeCloseTo(0.0625, 12);
    expect(mcnemarExactTest(withCounts(0, 0)).pValue).toBe(1);
    expect(mcnemarExactTest(withCounts(3, 3)).pValue).toBe(1);
    expect(mcnemarExactTest(withCounts(30, 50)).pValue).toBeCloseTo(exactP(30, 50), 12);
  });

  it('stays finite and accurate for large b + c', () => {
    const { pValue } = mcnemarExactTest(withCounts(400, 500));
    expect(Number.isFinite(pValue)).toBe(true);
    expect(pValue).toBeGreaterThan(0);
    expect(pValue).toBeLessThan(1);
    // continuity-corrected normal approximation: z = (|b − c| − 1) / sqrt(b + c) = 99 / 30 = 3.3, p ≈ 9.7e-4
    const approximate = normalTwoSidedP(99 / 30);
    expect(pValue / approximate).toBeGreaterThan(0.8);
    expect(pValue / approximate).toBeLessThan(1.25);
    expect(pValue / exactP(400, 500)).toBeCloseTo(1, 10);
    // far in the tail, where 2^-1000 and C(1000, 100) alone are at the edge of double range: p ≈ 1e-161
    const tiny = mcnemarExactTest(withCounts(100, 900)).pValue;
    expect(tiny).toBeGreaterThan(0);
    expect(tiny).toBeLessThan(1e-150);
    expect(tiny / exactP(100, 900)).toBeCloseTo(1, 9);
    // beyond double range the p-value underflows to 0 rather than turning into NaN
    expect(mcnemarExactTest(withCounts(100, 3000)).pValue).toBe(0);
  });
});

describe('pairedBootstrapInterval', () => {
  it('contains the observed difference and narrows with more data', () => {
    const small = simulate(seededRandom(7), 500, [0.55, 0.7, 0.65], [0.65, 0.72, 0.7]);
    const large = simulate(seededRandom(8), 5000, [0.55, 0.7, 0.65], [0.65, 0.72, 0.7]);
    const smallInterval = pairedBootstrapInterval(small, { resamples: 2000 });
    const largeInterval = pairedBootstrapInterval(large, { resamples: 2000 });
    for (const [input, interval] of [
      [small, smallInterval],
      [large, largeInterval],
    ] as const) {
      const observed = pairedMacroRecallTest(input, { permutations: 1 }).difference;
      expect(interval.difference).toBeCloseTo(observed, 15);
      expect(interval.lower).toBeLessThan(observed);
      expect(interval.upper).toBeGreaterThan(observed);
      expect(interval).toMatchObject({ level: 0.95, resamples: 2000 });
    }
    const smallWidth = smallInterval.upper - smallInterval.lower;
    const largeWidth = largeInterval.upper - largeInterval.lower;
    // the width shrinks like 1/sqrt(n): about sqrt(10) ≈ 3.2 times here
    expect(largeWidth).toBeLessThan(smallWidth / 2);
    expect(largeWidth).toBeGreaterThan(smallWidth / 5);
    // the large sample's interval excludes 0 (a true gain of about 0.04)
    expect(largeInterval.lower).toBeGreaterThan(0);
  });

  it('is reproducible, and narrower at a lower level', () => {
    const input = simulate(seededRandom(9), 1000, [0.6, 0.7, 0.7], [0.65, 0.7, 0.7]);
    const a = pairedBootstrapInterval(input, { seed: 3, resamples: 1000 });
    expect(pairedBootstrapInterval(input, { seed: 3, resamples: 1000 })).toEqual(a);
    const narrow = pairedBootstrapInterval(input, { seed: 3, resamples: 1000, level: 0.5 });
    expect(narrow.lower).toBeGreaterThan(a.lower);
    expect(narrow.upper).toBeLessThan(a.upper);
  });

  it('is the single point 0 for identical predictions', () => {
    const input = simulate(seededRandom(10), 300, [0.6, 0.7, 0.7], [0.6, 0.7, 0.7]);
    const interval = pairedBootstrapInterval({ ...input, candidate: input.champion }, { resamples: 200 });
    expect(interval).toMatchObject({ lower: 0, upper: 0, difference: 0 });
  });

  it('validates its options', () => {
    const ok = { truth: [0, 1, 2], champion: [0, 1, 1], candidate: [0, 2, 2] };
    for (const level of [0, 1, 1.5, NaN]) {
      expect(() => pairedBootstrapInterval(ok, { level })).toThrow(/level must lie strictly between 0 and 1/);
    }
    expect(() => pairedBootstrapInterval(ok, { resamples: 0 })).toThrow(
      'resamples must be a positive integer',
    );
  });
});
