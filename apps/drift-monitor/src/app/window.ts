import { StreamEntry, StreamPrediction, parseStreamEntry } from '@reputation-monitor/contracts';
import type { WindowBounds } from '@reputation-monitor/prediction-store';

export type { StreamEntry, StreamPrediction, WindowBounds };

export function windowBounds(end: number, minutes: number): WindowBounds {
  return { start: end - minutes * 60_000, end };
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
