import { SentimentLabel, parseLabel } from '@reputation-monitor/contracts';
import type { DriftSample } from '@reputation-monitor/drift-stats';

/**
 * One entry of the prediction stream, as the inference worker writes it (apps/inference-worker
 * prediction-stream.ts): id, label, negative, neutral, positive, tokens, truncated (0/1), model, version,
 * source, at.
 */
export interface StreamPrediction extends DriftSample {
  /** When the entry was appended (ms since epoch, from the stream id): what windows are cut by. */
  streamAt: number;
  id: string;
  model: string;
  version: string;
  source: string;
}

/** An XRANGE reply entry as ioredis returns it. */
export type StreamEntry = [id: string, fields: string[]];

export interface WindowBounds {
  /** Inclusive, ms since epoch. */
  start: number;
  /** Exclusive, ms since epoch. */
  end: number;
}

export function windowBounds(end: number, minutes: number): WindowBounds {
  return { start: end - minutes * 60_000, end };
}

/** XRANGE arguments for [start, end): ms-only ids mean `start-0` and `end-1` with any sequence. */
export function streamRange(bounds: WindowBounds): { from: string; to: string } {
  return { from: String(bounds.start), to: String(bounds.end - 1) };
}

/** Reads one stream entry; undefined for anything the worker would not have written. */
export function parseStreamEntry(entry: StreamEntry): StreamPrediction | undefined {
  const [streamId, list] = entry;
  const streamAt = Number(streamId.split('-')[0]);
  if (!Number.isSafeInteger(streamAt)) return undefined;
  const fields = new Map<string, string>();
  for (let i = 0; i + 1 < list.length; i += 2) fields.set(list[i], list[i + 1]);
  const label = parseLabel(fields.get('label')) as SentimentLabel | undefined;
  const scores = {
    negative: numeric(fields.get('negative')),
    neutral: numeric(fields.get('neutral')),
    positive: numeric(fields.get('positive')),
  };
  const tokens = numeric(fields.get('tokens'));
  const truncated = fields.get('truncated');
  const version = fields.get('version');
  const scoreValues = Object.values(scores);
  if (
    label === undefined ||
    scoreValues.some((score) => !Number.isFinite(score) || score < 0) ||
    scoreValues.every((score) => score === 0) ||
    !Number.isInteger(tokens) ||
    tokens < 0 ||
    (truncated !== '0' && truncated !== '1') ||
    !version
  ) {
    return undefined;
  }
  return {
    streamAt,
    id: fields.get('id') ?? '',
    label,
    scores,
    tokens,
    truncated: truncated === '1',
    model: fields.get('model') ?? '',
    version,
    source: fields.get('source') ?? '',
  };
}

/** Number() reads '' and ' ' as 0; a missing field must not pass for a zero. */
function numeric(text: string | undefined): number {
  return text === undefined || text.trim() === '' ? NaN : Number(text);
}

export interface WindowContents {
  /** Entries read from the stream for the window. */
  entries: number;
  /** Predictions of the monitor's own golden-set runs, left out (they are not traffic). */
  golden: number;
  /** Entries that could not be read as predictions. */
  malformed: number;
  /** Traffic predictions by model version. */
  byVersion: Record<string, number>;
  /** The model name last seen for each version. */
  modelNames: Record<string, string>;
  /** Version of the newest traffic prediction (ties between versions go to it). */
  newestVersion: string | undefined;
  predictions: StreamPrediction[];
}

/** Splits a window's entries into traffic predictions (by version), golden-set predictions and junk. */
export function readWindow(entries: readonly StreamEntry[], goldenSource: string): WindowContents {
  const contents: WindowContents = {
    entries: entries.length,
    golden: 0,
    malformed: 0,
    byVersion: {},
    modelNames: {},
    newestVersion: undefined,
    predictions: [],
  };
  let newestAt = -Infinity;
  for (const entry of entries) {
    const prediction = parseStreamEntry(entry);
    if (!prediction) {
      contents.malformed += 1;
      continue;
    }
    if (prediction.source === goldenSource) {
      contents.golden += 1;
      continue;
    }
    contents.byVersion[prediction.version] = (contents.byVersion[prediction.version] ?? 0) + 1;
    contents.modelNames[prediction.version] = prediction.model;
    if (prediction.streamAt >= newestAt) {
      newestAt = prediction.streamAt;
      contents.newestVersion = prediction.version;
    }
    contents.predictions.push(prediction);
  }
  return contents;
}

/**
 * The model version a run evaluates: the one with most traffic in the window (during a rollout, the
 * newest prediction's version breaks ties); with no traffic, the version that answered the golden set.
 */
export function chooseModelVersion(
  window: Pick<WindowContents, 'byVersion' | 'newestVersion'>,
  goldenVersion: string | undefined,
): string | undefined {
  let best: string | undefined;
  let bestCount = 0;
  for (const [version, count] of Object.entries(window.byVersion)) {
    if (count > bestCount || (count === bestCount && version === window.newestVersion)) {
      best = version;
      bestCount = count;
    }
  }
  return best ?? goldenVersion;
}
