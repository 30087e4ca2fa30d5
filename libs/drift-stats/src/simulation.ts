import { MODEL_MAX_TOKENS, SENTIMENT_LABELS, SentimentLabel } from '@reputation-monitor/contracts';
import { DriftSample } from './features';
import {
  DriftStatistics,
  DriftThresholds,
  ReferenceProfile,
  buildProfile,
  compareToProfile,
} from './profile';
import { Random, deriveSeed, normal, seededRandom } from './random';

// Module-level aliases: per-sample code then skips global lookups, which are slow inside Jest's vm sandbox.
const { abs, exp, log, max, min, round } = Math;

/**
 * Seeded synthetic prediction streams with injected shifts, to measure how fast the drift report reacts
 * and how often it raises false alarms. No model runs: labels, scores and token counts are drawn from
 * the distributions below.
 */
export interface SyntheticDistribution {
  /** Predicted-label mix (normalised). */
  labelMix: Record<SentimentLabel, number>;
  /**
   * Mean margin, in logits, of the predicted label over the best other label (the margin is |N(mean, 1)|,
   * the other two logits N(0, 1)); a smaller margin means less confident predictions.
   */
  confidenceMargin: number;
  /** Median token count, <s> and </s> included; counts are log-normal around it. */
  medianTokens: number;
  /** Standard deviation of ln(token count - 2). */
  tokenSpread: number;
  /** Share of inputs longer than the model limit (cut to MODEL_MAX_TOKENS and flagged truncated). */
  truncatedShare: number;
}

/**
 * The clean stream: TweetEval validation's class mix (15.6 / 43.5 / 41.0 %), confident predictions
 * (mean top score about 0.85) and tweet-like lengths (median 27 tokens), 0.2 % truncated pastes.
 */
export const REFERENCE_DISTRIBUTION: Readonly<SyntheticDistribution> = Object.freeze({
  labelMix: { negative: 0.156, neutral: 0.4345, positive: 0.4095 },
  confidenceMargin: 2.5,
  medianTokens: 27,
  tokenSpread: 0.45,
  truncatedShare: 0.002,
});

export type ShiftScenario = 'label-mix' | 'confidence' | 'length';

/** What changes at the shift, one property per scenario. */
export const SHIFT_SCENARIOS: Readonly<Record<ShiftScenario, Partial<SyntheticDistribution>>> = Object.freeze(
  {
    /** TweetEval test's class mix (32.3 / 48.3 / 19.3 %): JS distance 0.226 from the reference. */
    'label-mix': { labelMix: { negative: 0.323, neutral: 0.483, positive: 0.193 } },
    /** Less certain predictions, as on unfamiliar text: mean top score drops from about 0.85 to 0.77. */
    confidence: { confidenceMargin: 1.7 },
    /** Longer texts: median 27 → 34 tokens. */
    length: { medianTokens: 34 },
  },
);

function pickLabel(random: Random, mix: Record<SentimentLabel, number>): SentimentLabel {
  const total = SENTIMENT_LABELS.reduce((sum, label) => sum + mix[label], 0);
  let u = random() * total;
  for (const label of SENTIMENT_LABELS) {
    u -= mix[label];
    if (u < 0) return label;
  }
  return SENTIMENT_LABELS[SENTIMENT_LABELS.length - 1];
}

/** One synthetic prediction. */
export function syntheticSample(random: Random, distribution: SyntheticDistribution): DriftSample {
  const label = pickLabel(random, distribution.labelMix);
  const others = [normal(random), normal(random)];
  const top = max(...others) + abs(normal(random, distribution.confidenceMargin));
  let o = 0;
  const logits = SENTIMENT_LABELS.map((name) => (name === label ? top : others[o++]));
  const exps = logits.map((z) => exp(z - top));
  const total = exps.reduce((a, b) => a + b, 0);
  const scores = Object.fromEntries(
    SENTIMENT_LABELS.map((name, i) => [name, exps[i] / total]),
  ) as DriftSample['scores'];
  if (random() < distribution.truncatedShare)
    return { label, scores, tokens: MODEL_MAX_TOKENS, truncated: true };
  const length = 2 + round(exp(normal(random, log(distribution.medianTokens - 2), distribution.tokenSpread)));
  return { label, scores, tokens: min(length, MODEL_MAX_TOKENS), truncated: length > MODEL_MAX_TOKENS };
}

/** `count` predictions from one distribution. */
export function syntheticSamples(
  distribution: SyntheticDistribution,
  count: number,
  seed: number,
): DriftSample[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => syntheticSample(random, distribution));
}

export interface DetectionOptions {
  /** Predictions per window (default 500). */
  windowSize?: number;
  /** Predictions in the reference profile (default 10,000; the KS reservoir keeps 5,000). */
  referenceSize?: number;
  /** Clean windows before the one in which the shift starts (default 8). */
  windowsBeforeShift?: number;
  /** Windows from the one in which the shift starts onwards (default 6). */
  windowsFromShift?: number;
  /** Where in its window the shift starts, as a share of the window (default 0.5: mid-window). */
  shiftOffset?: number;
  /**
   * Clean windows for the false-alarm rate (default 600), drawn with seeds unused elsewhere and spread
   * evenly over `references` independently drawn reference profiles.
   */
  cleanWindows?: number;
  /**
   * Reference profiles the clean windows are compared with (default 6). Windows compared with one
   * reference share its sampling error, so one reference gives that reference's own rate, which varies
   * around the expected rate (by a factor of about 2 either way at the default sizes); several give the
   * expected rate for a reference drawn at random, the rate the Bonferroni bound is about.
   */
  references?: number;
  seed?: number;
  thresholds?: Partial<DriftThresholds>;
}

export interface ScenarioOutcome {
  scenario: ShiftScenario;
  /** Index of the window the shift starts in (the window is part shifted unless shiftOffset is 0). */
  shiftWindow: number;
  /** Sample index at which the shift starts. */
  shiftSample: number;
  /** First drifted window at or after shiftWindow; null if none. */
  detectedWindow: number | null;
  /** detectedWindow - shiftWindow: 0 means the window the shift starts in is flagged. */
  delayWindows: number | null;
  /** Shifted samples seen when the alarm is raised (end of the detecting window - shiftSample). */
  delaySamples: number | null;
  /** Statistics that drifted in the detecting window. */
  flagged: (keyof DriftStatistics)[];
  /** Drifted windows before shiftWindow (false alarms). */
  alarmsBeforeShift: number;
}

export interface DetectionSummary {
  windowSize: number;
  referenceSize: number;
  scenarios: ScenarioOutcome[];
  falseAlarms: {
    windows: number;
    alarms: number;
    rate: number;
    /** Alarm rate of each reference profile's share of the clean windows. */
    perReference: number[];
  };
}

const flaggedStatistics = (statistics: DriftStatistics) =>
  (Object.keys(statistics) as (keyof DriftStatistics)[]).filter((key) => statistics[key].drifted);

/** Runs the three shift scenarios and the clean windows; deterministic for a given seed. */
export function measureDetection(options: DetectionOptions = {}): DetectionSummary {
  const windowSize = options.windowSize ?? 500;
  const referenceSize = options.referenceSize ?? 10_000;
  const before = options.windowsBeforeShift ?? 8;
  const from = options.windowsFromShift ?? 6;
  const offset = options.shiftOffset ?? 0.5;
  const cleanWindows = options.cleanWindows ?? 600;
  const references = options.references ?? 6;
  const seed = options.seed ?? 1;
  if (!(offset >= 0 && offset < 1)) throw new RangeError(`shiftOffset must be in [0, 1), got ${offset}`);
  if (!Number.isInteger(references) || references < 1)
    throw new RangeError(`references must be >= 1, got ${references}`);

  const reference = (r: number): ReferenceProfile =>
    buildProfile(syntheticSamples(REFERENCE_DISTRIBUTION, referenceSize, deriveSeed(seed, 0, r)));
  const profile = reference(0);
  const scenarios = (Object.keys(SHIFT_SCENARIOS) as ShiftScenario[]).map((scenario, s): ScenarioOutcome => {
    const shifted = { ...REFERENCE_DISTRIBUTION, ...SHIFT_SCENARIOS[scenario] };
    const shiftSample = before * windowSize + Math.round(offset * windowSize);
    let detectedWindow: number | null = null;
    let flagged: (keyof DriftStatistics)[] = [];
    let alarmsBeforeShift = 0;
    for (let w = 0; w < before + from; w += 1) {
      const random = seededRandom(deriveSeed(seed, 1, s, w));
      const window = Array.from({ length: windowSize }, (_, i) =>
        syntheticSample(random, w * windowSize + i < shiftSample ? REFERENCE_DISTRIBUTION : shifted),
      );
      const report = compareToProfile(profile, window, options.thresholds);
      if (!report.drifted) continue;
      if (w < before) alarmsBeforeShift += 1;
      else if (detectedWindow === null) {
        detectedWindow = w;
        flagged = flaggedStatistics(report.statistics);
      }
    }
    return {
      scenario,
      shiftWindow: before,
      shiftSample,
      detectedWindow,
      delayWindows: detectedWindow === null ? null : detectedWindow - before,
      delaySamples: detectedWindow === null ? null : (detectedWindow + 1) * windowSize - shiftSample,
      flagged,
      alarmsBeforeShift,
    };
  });

  const perReference: number[] = [];
  let alarms = 0;
  let done = 0;
  for (let r = 0; r < references; r += 1) {
    const cleanProfile = r === 0 ? profile : reference(r);
    const share = Math.round(((r + 1) * cleanWindows) / references) - done;
    let referenceAlarms = 0;
    for (let w = done; w < done + share; w += 1) {
      const window = syntheticSamples(REFERENCE_DISTRIBUTION, windowSize, deriveSeed(seed, 2, w));
      if (compareToProfile(cleanProfile, window, options.thresholds).drifted) referenceAlarms += 1;
    }
    perReference.push(share === 0 ? 0 : referenceAlarms / share);
    alarms += referenceAlarms;
    done += share;
  }
  return {
    windowSize,
    referenceSize,
    scenarios,
    falseAlarms: {
      windows: cleanWindows,
      alarms,
      rate: cleanWindows === 0 ? 0 : alarms / cleanWindows,
      perReference,
    },
  };
}

/** The summary as a few lines of text (for a CLI or a test log). */
export function formatDetectionSummary(summary: DetectionSummary): string {
  const lines = [`windows of ${summary.windowSize} predictions, reference of ${summary.referenceSize}`];
  for (const s of summary.scenarios) {
    lines.push(
      s.detectedWindow === null
        ? `${s.scenario}: not detected (shift at sample ${s.shiftSample})`
        : `${s.scenario}: detected ${s.delayWindows} window(s) after the window the shift starts in, ` +
            `${s.delaySamples} shifted predictions in (by ${s.flagged.join(', ')}); ${s.alarmsBeforeShift} alarm(s) before the shift`,
    );
  }
  const f = summary.falseAlarms;
  const percent = (x: number) => `${(100 * x).toFixed(2)}%`;
  lines.push(
    `false alarms: ${f.alarms} of ${f.windows} clean windows (${percent(f.rate)}) over ${f.perReference.length} ` +
      `reference(s); per reference ${f.perReference.map(percent).join(', ')}`,
  );
  return lines.join('\n');
}
