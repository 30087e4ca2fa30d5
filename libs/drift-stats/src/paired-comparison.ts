import { SENTIMENT_LABELS } from '@reputation-monitor/contracts';
import { qualityFromConfusion } from './quality';
import { seededRandom } from './random';
import { lnGamma } from './special-functions';

/**
 * Paired comparison of a champion and a candidate model on the same labelled examples, for the
 * retraining gate: is the candidate's macro recall (TweetEval's metric, as `qualityMetrics` computes it)
 * really higher than the champion's, or is the difference sampling noise?
 *
 * Why a permutation test on macro recall, with McNemar only beside it:
 * - The gate's metric is macro recall, the unweighted mean of the per-class recalls. Its paired test is
 *   a sign-flip permutation test: under H0 the two models' predictions are exchangeable on every
 *   example, so swapping an example's pair of predictions (probability 1/2 each, independently) gives
 *   another equally likely dataset. It needs no distributional assumption and conditions on the true
 *   labels, so the class sizes behind each recall are fixed.
 * - McNemar's test compares accuracy, not macro recall: it only counts b (champion right, candidate
 *   wrong) and c (the reverse), whatever the class. A candidate that trades majority-class hits for as
 *   many minority-class hits has b = c, so McNemar says "no difference" (p = 1) while macro recall
 *   clearly rose: each minority hit is worth 1 / n_minority of a recall, each majority hit only
 *   1 / n_majority. Gating on McNemar would reject exactly the improvement macro recall is meant to
 *   reward. It is reported beside the permutation test because "accuracy fell / did not change" is
 *   still worth knowing when a candidate is promoted.
 *
 * Speed: the macro-recall difference is linear in per-example contributions. An example on which both
 * models are right, or both wrong, contributes 0 whatever the swap; one on which exactly one model is
 * right (a discordant example) contributes ±1/(3·n_c), n_c the count of its true class. A permutation is
 * therefore a sum of random signs over the d discordant examples, and within a class all signs carry the
 * same weight, so it is Σ_c (2·K_c − d_c) / (3·n_c) with K_c ~ Binomial(d_c, 1/2): the number of heads
 * among d_c fair coins, drawn here as the popcount of d_c random bits (one 32-bit draw per 32 coins).
 * 10,000 permutations over 10,000 examples take a few milliseconds.
 */

// Module-level aliases: hot loops then skip global lookups, which are slow inside Jest's vm sandbox.
const { abs, exp, floor, imul, log, min } = Math;

const K = SENTIMENT_LABELS.length;
/** Statistics within this of the observed one count as ties (as extreme as it). */
const TIE_TOLERANCE = 1e-12;
const TWO_POW_32 = 4294967296;

export const DEFAULT_PERMUTATIONS = 10_000;
/**
 * Bootstrap resamples by default. Each costs one random draw per example (about 0.3 s for 2,000 resamples
 * of 10,000 examples); 2,000 put the 2.5 % and 97.5 % quantiles on 50 resamples each, enough for a
 * reported interval (the gate's decision is the permutation test's).
 */
export const DEFAULT_BOOTSTRAP_RESAMPLES = 2_000;
export const DEFAULT_PAIRED_SEED = 0x2545f491;
/** With `method: 'auto'`, at most this many discordant examples are enumerated exactly (2^16 patterns). */
export const EXACT_MAX_DISCORDANT = 16;
/** `method: 'exact'` refuses more discordant examples than this (2^24 ≈ 17 million patterns). */
export const EXACT_HARD_LIMIT = 24;

/** The same labelled examples seen by two models: label indices 0..2 in schema order (negative, neutral, positive). */
export interface PairedPredictions {
  truth: ArrayLike<number>;
  champion: ArrayLike<number>;
  candidate: ArrayLike<number>;
}

export type PairedAlternative = 'greater' | 'two-sided';

export interface PairedTestOptions {
  /** Monte Carlo sign-flip draws (default 10,000); unused when the p-value is exact. */
  permutations?: number;
  /** Seed of the Monte Carlo draws (default DEFAULT_PAIRED_SEED), so a p-value is reproducible. */
  seed?: number;
  /** 'greater' (default): H1 is "the candidate's macro recall is higher"; 'two-sided': "they differ". */
  alternative?: PairedAlternative;
  /**
   * 'auto' (default): exact enumeration when there are at most EXACT_MAX_DISCORDANT discordant examples,
   * Monte Carlo otherwise. 'exact' enumerates up to EXACT_HARD_LIMIT; 'monte-carlo' always samples.
   */
  method?: 'auto' | 'exact' | 'monte-carlo';
}

export interface PairedTestResult {
  /** Examples compared. */
  count: number;
  championMacroRecall: number;
  candidateMacroRecall: number;
  /** candidateMacroRecall − championMacroRecall. */
  difference: number;
  /**
   * 'greater': P(permuted difference >= observed); 'two-sided': P(|permuted| >= |observed|). Exact: the
   * share of all 2^d sign patterns; Monte Carlo: (1 + hits) / (1 + permutations) (Phipson & Smyth 2010),
   * never 0 and valid at every sample size.
   */
  pValue: number;
  method: 'exact' | 'monte-carlo';
  /** Sign patterns behind the p-value: 2^discordant when exact, the Monte Carlo draws otherwise. */
  permutations: number;
  /** Examples on which exactly one model is right; only these can move the statistic. */
  discordant: number;
  alternative: PairedAlternative;
}

export interface BootstrapOptions {
  /** Bootstrap resamples (default 2,000). */
  resamples?: number;
  /** Seed of the resampling (default DEFAULT_PAIRED_SEED). */
  seed?: number;
  /** Confidence level in (0, 1) (default 0.95). */
  level?: number;
}

export interface BootstrapInterval {
  /** Percentile interval of the macro-recall difference (candidate − champion). */
  lower: number;
  upper: number;
  level: number;
  resamples: number;
  /** The observed difference, for reference. */
  difference: number;
}

export interface McNemarResult {
  /** Champion right, candidate wrong. */
  b: number;
  /** Champion wrong, candidate right. */
  c: number;
  /** Two-sided exact p-value on accuracy: min(1, 2·P(X <= min(b, c))), X ~ Binomial(b + c, 1/2). */
  pValue: number;
  championAccuracy: number;
  candidateAccuracy: number;
}

/** Per-class counts of a paired dataset: everything the three procedures need. */
interface PairedSummary {
  count: number;
  /** n_c: examples whose true class is c. */
  support: number[];
  /** Examples of class c that only the champion gets right. */
  championOnly: number[];
  /** Examples of class c that only the candidate gets right. */
  candidateOnly: number[];
  /** True class of each discordant example, in input order. */
  discordantClasses: number[];
  championConfusion: number[][];
  candidateConfusion: number[][];
  championCorrect: number;
  candidateCorrect: number;
}

function checkLabel(values: ArrayLike<number>, name: string, i: number): number {
  const value = values[i];
  if (!Number.isInteger(value) || value < 0 || value >= K) {
    throw new RangeError(`${name}[${i}] is not a label index 0..${K - 1}: ${String(value)}`);
  }
  return value;
}

function summarise(input: PairedPredictions): PairedSummary {
  const { truth, champion, candidate } = input ?? ({} as PairedPredictions);
  for (const [name, values] of [
    ['truth', truth],
    ['champion', champion],
    ['candidate', candidate],
  ] as const) {
    if (values === null || typeof values !== 'object' || typeof values.length !== 'number') {
      throw new RangeError(`${name} must be an array of label indices`);
    }
  }
  const n = truth.length;
  if (champion.length !== n || candidate.length !== n) {
    throw new RangeError(
      `truth, champion and candidate differ in length (${n}, ${champion.length}, ${candidate.length})`,
    );
  }
  if (n === 0) throw new RangeError('no examples to compare: truth, champion and candidate are empty');
  const zeros = () => new Array<number>(K).fill(0);
  const summary: PairedSummary = {
    count: n,
    support: zeros(),
    championOnly: zeros(),
    candidateOnly: zeros(),
    discordantClasses: [],
    championConfusion: SENTIMENT_LABELS.map(zeros),
    candidateConfusion: SENTIMENT_LABELS.map(zeros),
    championCorrect: 0,
    candidateCorrect: 0,
  };
  for (let i = 0; i < n; i += 1) {
    const t = checkLabel(truth, 'truth', i);
    const a = checkLabel(champion, 'champion', i);
    const b = checkLabel(candidate, 'candidate', i);
    summary.support[t] += 1;
    summary.championConfusion[t][a] += 1;
    summary.candidateConfusion[t][b] += 1;
    const championRight = a === t;
    const candidateRight = b === t;
    if (championRight) summary.championCorrect += 1;
    if (candidateRight) summary.candidateCorrect += 1;
    if (championRight !== candidateRight) {
      if (championRight) summary.championOnly[t] += 1;
      else summary.candidateOnly[t] += 1;
      summary.discordantClasses.push(t);
    }
  }
  return summary;
}

/** Weight of one discordant example of each class in the macro-recall difference: 1 / (3·n_c). */
const classWeights = (summary: PairedSummary) => summary.support.map((n) => (n === 0 ? 0 : 1 / (K * n)));

/**
 * The difference as a function of how many discordant examples of each class the candidate gets right
 * (`plus`), everything else fixed: Σ_c w_c·(2·plus_c − d_c). The observed and the permuted statistics go
 * through this same expression, so equal count vectors give bit-identical values.
 */
function statisticOf(weights: number[], discordant: number[], plus: ArrayLike<number>): number {
  let total = 0;
  for (let c = 0; c < K; c += 1) total += weights[c] * (2 * plus[c] - discordant[c]);
  return total;
}

/** Whether a permuted statistic is at least as extreme as the observed one (ties included). */
function extremeTest(alternative: PairedAlternative, observed: number): (value: number) => boolean {
  if (alternative === 'greater') {
    const bound = observed - TIE_TOLERANCE;
    return (value) => value >= bound;
  }
  const bound = abs(observed) - TIE_TOLERANCE;
  return (value) => abs(value) >= bound;
}

/**
 * Exact p-value: every one of the 2^d sign patterns, visited in Gray-code order so that each step flips
 * one example and updates one class count.
 */
function exactSignFlipP(
  weights: number[],
  discordant: number[],
  classes: readonly number[],
  isExtreme: (value: number) => boolean,
): number {
  const d = classes.length;
  const plus = new Int32Array(K); // all patterns start with the champion getting every discordant hit
  const patterns = 2 ** d;
  let mask = 0;
  let hits = isExtreme(statisticOf(weights, discordant, plus)) ? 1 : 0;
  for (let step = 1; step < patterns; step += 1) {
    const bit = 31 - Math.clz32(step & -step); // the bit that changes between Gray codes step−1 and step
    mask ^= 1 << bit;
    plus[classes[bit]] += mask & (1 << bit) ? 1 : -1;
    if (isExtreme(statisticOf(weights, discordant, plus))) hits += 1;
  }
  return hits / patterns;
}

function popcount32(word: number): number {
  let x = word - ((word >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return imul(x, 0x01010101) >>> 24;
}

/** Monte Carlo p-value: per draw, K_c ~ Binomial(d_c, 1/2) as the popcount of d_c random bits. */
function monteCarloSignFlipP(
  weights: number[],
  discordant: number[],
  isExtreme: (value: number) => boolean,
  permutations: number,
  seed: number,
): number {
  const random = seededRandom(seed);
  const plus = new Int32Array(K);
  const fullWords = discordant.map((coins) => coins >>> 5);
  const restMasks = discordant.map((coins) => (coins & 31 ? 0xffffffff >>> (32 - (coins & 31)) : 0));
  let hits = 0;
  for (let draw = 0; draw < permutations; draw += 1) {
    for (let c = 0; c < K; c += 1) {
      let heads = 0;
      for (let w = fullWords[c]; w > 0; w -= 1) heads += popcount32((random() * TWO_POW_32) >>> 0);
      if (restMasks[c] !== 0) heads += popcount32(((random() * TWO_POW_32) >>> 0) & restMasks[c]);
      plus[c] = heads;
    }
    if (isExtreme(statisticOf(weights, discordant, plus))) hits += 1;
  }
  return (1 + hits) / (1 + permutations);
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
  return value;
}

function seedOption(value: number | undefined): number {
  if (value === undefined) return DEFAULT_PAIRED_SEED;
  if (!Number.isInteger(value)) throw new RangeError('seed must be an integer');
  return value;
}

/**
 * Paired sign-flip permutation test of the macro-recall difference (candidate − champion). Exact over all
 * 2^d sign patterns of the d discordant examples when d is small, Monte Carlo otherwise.
 */
export function pairedMacroRecallTest(
  input: PairedPredictions,
  options: PairedTestOptions = {},
): PairedTestResult {
  const permutations = positiveInteger(options.permutations, DEFAULT_PERMUTATIONS, 'permutations');
  const seed = seedOption(options.seed);
  const alternative = options.alternative ?? 'greater';
  if (alternative !== 'greater' && alternative !== 'two-sided') {
    throw new RangeError(`alternative must be 'greater' or 'two-sided', got ${String(alternative)}`);
  }
  const requested = options.method ?? 'auto';
  if (requested !== 'auto' && requested !== 'exact' && requested !== 'monte-carlo') {
    throw new RangeError(`method must be 'auto', 'exact' or 'monte-carlo', got ${String(requested)}`);
  }
  const summary = summarise(input);
  const d = summary.discordantClasses.length;
  if (requested === 'exact' && d > EXACT_HARD_LIMIT) {
    throw new RangeError(`exact enumeration needs at most ${EXACT_HARD_LIMIT} discordant examples, got ${d}`);
  }
  const method =
    requested === 'exact' || (requested === 'auto' && d <= EXACT_MAX_DISCORDANT) ? 'exact' : 'monte-carlo';

  const weights = classWeights(summary);
  const discordant = summary.support.map((_, c) => summary.championOnly[c] + summary.candidateOnly[c]);
  const observed = statisticOf(weights, discordant, summary.candidateOnly);
  const isExtreme = extremeTest(alternative, observed);
  const pValue =
    method === 'exact'
      ? exactSignFlipP(weights, discordant, summary.discordantClasses, isExtreme)
      : monteCarloSignFlipP(weights, discordant, isExtreme, permutations, seed);

  const championMacroRecall = qualityFromConfusion(summary.championConfusion).macroRecall;
  const candidateMacroRecall = qualityFromConfusion(summary.candidateConfusion).macroRecall;
  return {
    count: summary.count,
    championMacroRecall,
    candidateMacroRecall,
    difference: candidateMacroRecall - championMacroRecall,
    pValue,
    method,
    permutations: method === 'exact' ? 2 ** d : permutations,
    discordant: d,
    alternative,
  };
}

/** Linear interpolation between order statistics (R's type 7) of a sorted sample. */
function quantileOfSorted(sorted: Float64Array, p: number): number {
  const position = (sorted.length - 1) * p;
  const below = floor(position);
  const above = min(below + 1, sorted.length - 1);
  return sorted[below] + (position - below) * (sorted[above] - sorted[below]);
}

/**
 * Percentile bootstrap interval of the macro-recall difference: examples are resampled with replacement
 * (keeping each example's pair of predictions together) and the difference recomputed; a class missing
 * from a resample has recall 0 for both models, as in `qualityMetrics`.
 */
export function pairedBootstrapInterval(
  input: PairedPredictions,
  options: BootstrapOptions = {},
): BootstrapInterval {
  const resamples = positiveInteger(options.resamples, DEFAULT_BOOTSTRAP_RESAMPLES, 'resamples');
  const seed = seedOption(options.seed);
  const level = options.level ?? 0.95;
  if (!(level > 0 && level < 1))
    throw new RangeError(`level must lie strictly between 0 and 1, got ${level}`);
  const summary = summarise(input);
  const n = summary.count;
  const { truth, champion, candidate } = input;
  // Each example reduces to its class and who is right: code = 3·class + (0 both or neither,
  // 1 champion only, 2 candidate only).
  const codes = new Uint8Array(n);
  for (let i = 0; i < n; i += 1) {
    const t = truth[i];
    const championRight = champion[i] === t;
    const candidateRight = candidate[i] === t;
    codes[i] = 3 * t + (championRight === candidateRight ? 0 : championRight ? 1 : 2);
  }
  const random = seededRandom(seed);
  const tally = new Int32Array(3 * K);
  const differences = new Float64Array(resamples);
  for (let r = 0; r < resamples; r += 1) {
    tally.fill(0);
    for (let i = 0; i < n; i += 1) tally[codes[floor(random() * n)]] += 1;
    let difference = 0;
    for (let c = 0; c < K; c += 1) {
      const support = tally[3 * c] + tally[3 * c + 1] + tally[3 * c + 2];
      if (support > 0) difference += (tally[3 * c + 2] - tally[3 * c + 1]) / (K * support);
    }
    differences[r] = difference;
  }
  differences.sort();
  const championMacroRecall = qualityFromConfusion(summary.championConfusion).macroRecall;
  const candidateMacroRecall = qualityFromConfusion(summary.candidateConfusion).macroRecall;
  return {
    lower: quantileOfSorted(differences, (1 - level) / 2),
    upper: quantileOfSorted(differences, (1 + level) / 2),
    level,
    resamples,
    difference: candidateMacroRecall - championMacroRecall,
  };
}

const lnChoose = (n: number, k: number) => lnGamma(n + 1) - lnGamma(k + 1) - lnGamma(n - k + 1);

/**
 * P(X <= k) for X ~ Binomial(m, 1/2), k <= m/2: pmf(k) from lnGamma, times Σ_{j<=k} pmf(j)/pmf(k) built
 * by the running ratio pmf(j−1)/pmf(j) = j/(m−j+1) <= 1, so nothing overflows or underflows for large m.
 */
function binomialHalfLowerTail(k: number, m: number): number {
  let relative = 1;
  let term = 1;
  for (let j = k; j > 0; j -= 1) {
    term *= j / (m - j + 1);
    relative += term;
    if (term < relative * 1e-17) break;
  }
  return exp(lnChoose(m, k) - m * log(2) + log(relative));
}

/**
 * Exact McNemar test on accuracy (two-sided, conditional binomial form): only the discordant examples
 * count, and under H0 each is the candidate's with probability 1/2. See the file comment for why the
 * gate does not use it on its own.
 */
export function mcnemarExactTest(input: PairedPredictions): McNemarResult {
  const summary = summarise(input);
  const b = summary.championOnly.reduce((sum, x) => sum + x, 0);
  const c = summary.candidateOnly.reduce((sum, x) => sum + x, 0);
  const pValue = b + c === 0 ? 1 : min(1, 2 * binomialHalfLowerTail(min(b, c), b + c));
  return {
    b,
    c,
    pValue,
    championAccuracy: summary.championCorrect / summary.count,
    candidateAccuracy: summary.candidateCorrect / summary.count,
  };
}
