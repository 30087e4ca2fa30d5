import { SentimentLabel, parseLabel } from './labels';

/**
 * Predictions are indexed by id in a capped ring of Redis hashes (`redisKeys.predictionIndex`), so the
 * gateway can match a feedback label to the prediction it corrects without a key per prediction. Workers
 * before the ring wrote one hash per hour (`redisKeys.legacyPredictionIndexHour`), numbered by this bucket.
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
  /** The job that holds the text, so feedback without a text can take it from there while the job is kept. */
  jobId?: string;
}

/** `label|at|version`, or `j|label|at|jobId|version` with a job id (ids never hold `|`; versions may). */
export function encodeIndexedPrediction(prediction: IndexedPrediction): string {
  const { label, at, modelVersion, jobId } = prediction;
  return jobId === undefined ? `${label}|${at}|${modelVersion}` : `j|${label}|${at}|${jobId}|${modelVersion}`;
}

export function decodeIndexedPrediction(value: string): IndexedPrediction | undefined {
  const parts = value.split('|');
  const withJob = parts[0] === 'j';
  const [label, at, ...rest] = withJob ? parts.slice(1) : parts;
  const jobId = withJob ? rest.shift() : undefined;
  const parsed = parseLabel(label);
  if (!parsed || !Number.isFinite(Number(at)) || rest.length === 0 || jobId === '') return undefined;
  return {
    label: parsed,
    at: Number(at),
    modelVersion: rest.join('|'),
    ...(jobId !== undefined && { jobId }),
  };
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

export function encodeFeedbackRecord(record: FeedbackRecord): string {
  const { id, label, predicted, modelVersion, predictedAt, at } = record;
  return JSON.stringify({ id, label, predicted, modelVersion, predictedAt, at });
}

/** The stored record, or undefined for anything that is not one. */
export function decodeFeedbackRecord(value: string): FeedbackRecord | undefined {
  try {
    const record = JSON.parse(value) as FeedbackRecord;
    const label = parseLabel(record?.label);
    const predicted = parseLabel(record?.predicted);
    if (!label || !predicted || typeof record.modelVersion !== 'string' || typeof record.id !== 'string')
      return undefined;
    return { ...record, label, predicted };
  } catch {
    return undefined;
  }
}
