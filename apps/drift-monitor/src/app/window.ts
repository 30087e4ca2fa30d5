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
  /**
   * Entries repeating one already read: the same prediction id, model version and role. A job run twice (its
   * lock lapsed while a stalled worker still held it, or a retry after its predictions were appended) appends
   * its predictions twice; a client resending an id (with its text: ids are held to their texts) is one item.
   */
  duplicates: number;
  /**
   * Shadow predictions (role `shadow`): a second version scoring a text beside the one that answered. They
   * are not traffic (no client got them), so drift and quality leave them out; the candidate comparison
   * pairs them with the answered prediction of the same id.
   */
  shadow: number;
  /** Traffic predictions by model version (production and canary: what clients got). */
  byVersion: Record<string, number>;
  /** The model name last seen for each version. */
  modelNames: Record<string, string>;
  /** Version of the newest traffic prediction (ties between versions go to it). */
  newestVersion: string | undefined;
  /** What clients got, oldest first. */
  predictions: StreamPrediction[];
  /** The shadow predictions, oldest first. */
  shadowPredictions: StreamPrediction[];
}

/**
 * Splits a window's entries into traffic predictions (by version), shadow predictions, golden-set
 * predictions, repeats and junk. A golden-set prediction counts as golden whatever its role; a repeat of
 * an entry (same id, version and role) counts once, as the first.
 */
export function readWindow(entries: readonly StreamEntry[], goldenSource: string): WindowContents {
  const contents: WindowContents = {
    entries: entries.length,
    golden: 0,
    malformed: 0,
    duplicates: 0,
    shadow: 0,
    byVersion: {},
    modelNames: {},
    newestVersion: undefined,
    predictions: [],
    shadowPredictions: [],
  };
  let newestAt = -Infinity;
  const seen = new Set<string>();
  for (const entry of entries) {
    const prediction = parseStreamEntry(entry);
    if (!prediction) {
      contents.malformed += 1;
      continue;
    }
    const key = `${prediction.role}\n${prediction.version}\n${prediction.id}`;
    if (seen.has(key)) {
      contents.duplicates += 1;
      continue;
    }
    seen.add(key);
    if (prediction.source === goldenSource) {
      contents.golden += 1;
      continue;
    }
    if (prediction.role === 'shadow') {
      contents.shadow += 1;
      contents.shadowPredictions.push(prediction);
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
