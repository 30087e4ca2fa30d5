import { SentimentLabel, parseLabel } from './labels';

/**
 * Predictions are indexed by id in hourly Redis hashes (one hash per hour, expiring as a whole), so the
 * gateway can match a feedback label to the prediction it corrects without a key per prediction.
 */
export const PREDICTION_INDEX_BUCKET_MS = 3_600_000;

export function predictionIndexBucket(at: number): number {
  return Math.floor(at / PREDICTION_INDEX_BUCKET_MS);
}

/** What the index keeps of a prediction. */
export interface IndexedPrediction {
  label: SentimentLabel;
  modelVersion: string;
  /** When the prediction was made, ms since epoch. */
  at: number;
}

export function encodeIndexedPrediction(prediction: IndexedPrediction): string {
  return `${prediction.label}|${prediction.at}|${prediction.modelVersion}`;
}

export function decodeIndexedPrediction(value: string): IndexedPrediction | undefined {
  const [label, at, ...version] = value.split('|');
  const parsed = parseLabel(label);
  if (!parsed || !Number.isFinite(Number(at)) || version.length === 0) return undefined;
  return { label: parsed, at: Number(at), modelVersion: version.join('|') };
}

/** A human label for an earlier prediction, as stored for the drift monitor. */
export interface FeedbackRecord {
  id: string;
  label: SentimentLabel;
  predicted: SentimentLabel;
  modelVersion: string;
  predictedAt: number;
  /** When the label was given, ms since epoch. */
  at: number;
}
