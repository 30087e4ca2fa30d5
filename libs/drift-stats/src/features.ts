import { SENTIMENT_LABELS, SentimentLabel, SentimentScores, parseLabel } from '@reputation-monitor/contracts';

// Module-level aliases: per-sample code then skips global lookups, which are slow inside Jest's vm sandbox.
const { max, log2 } = Math;
const finite = Number.isFinite;

/** What the drift statistics read from one prediction (a contracts `Prediction` without its id fits). */
export interface DriftSample {
  label: SentimentLabel;
  scores: SentimentScores;
  /** Token ids fed to the model, <s> and </s> included. */
  tokens: number;
  truncated: boolean;
}

export interface SampleFeatures {
  labelIndex: number;
  /** Largest score after normalising the scores to sum 1. */
  confidence: number;
  /** Shannon entropy of the normalised scores, in bits: 0 (certain) to log2(3) ≈ 1.585 (uniform). */
  entropy: number;
  tokens: number;
  truncated: boolean;
}

/** Reads and checks one sample; throws a RangeError naming `where` and the bad field. */
export function sampleFeatures(sample: DriftSample, where = 'sample'): SampleFeatures {
  const label = parseLabel(sample?.label);
  if (label === undefined) throw new RangeError(`${where}.label is not a sentiment label`);
  const raw = SENTIMENT_LABELS.map((name) => sample.scores?.[name]);
  if (raw.some((score) => typeof score !== 'number' || !finite(score) || score < 0)) {
    throw new RangeError(
      `${where}.scores must hold a finite score >= 0 for each of ${SENTIMENT_LABELS.join(', ')}`,
    );
  }
  const total = (raw as number[]).reduce((a, b) => a + b, 0);
  if (total === 0) throw new RangeError(`${where}.scores are all zero`);
  const scores = (raw as number[]).map((score) => score / total);
  if (typeof sample.tokens !== 'number' || !finite(sample.tokens) || sample.tokens < 0) {
    throw new RangeError(`${where}.tokens must be a finite number >= 0`);
  }
  if (typeof sample.truncated !== 'boolean') throw new RangeError(`${where}.truncated must be a boolean`);
  return {
    labelIndex: SENTIMENT_LABELS.indexOf(label),
    confidence: max(...scores),
    entropy: scores.reduce((sum, p) => (p > 0 ? sum - p * log2(p) : sum), 0),
    tokens: sample.tokens,
    truncated: sample.truncated,
  };
}
