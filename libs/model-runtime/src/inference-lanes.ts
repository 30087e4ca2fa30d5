/**
 * How the worker splits its cores between concurrent inference runs (docs/adr/0009-inference-lanes.md).
 *
 * A run of a few texts leaves cores waiting on memory: RoBERTa-base reads all its weights once per run,
 * and splitting small matrix products over threads gains little. Two sessions of one thread each, running
 * two batches at once, served 14-45 % (fp32) and 25-90 % (int8) more texts per second than one session of
 * two threads on batches of 1-16 texts, and as much on batches of 32. One run alone, though, takes longer
 * on one thread (fp32 batch of one: 40 instead of 27 ms), so an idle worker can keep a session with every
 * core for a run that is the only work there is: the solo lane.
 */

/** Lanes when INFERENCE_LANES is 0 (auto) and there are at least two cores. */
export const AUTO_LANES = 2;

/** The solo lane is kept (INFERENCE_SOLO_LANE=auto) when a lone run on it takes at most this share of a lane's time. */
export const SOLO_LANE_MAX_TIME_RATIO = 0.85;

export interface LaneLayout {
  /** Sessions that run at the same time. */
  lanes: number;
  /** ONNX Runtime intra-op threads of each lane's session. */
  threadsPerLane: number;
  /** Threads of the solo lane's session (every core); undefined when one lane already has them all. */
  soloThreads: number | undefined;
}

/**
 * The layout for `cores` cores: `requestedLanes` lanes (0: auto, AUTO_LANES when there are that many cores,
 * else one), at most one per core, the cores shared evenly (a remainder is left to the process's own thread).
 */
export function laneLayout(cores: number, requestedLanes = 0): LaneLayout {
  const usable = Math.max(1, Math.floor(cores));
  const wanted = requestedLanes > 0 ? Math.floor(requestedLanes) : AUTO_LANES;
  const lanes = Math.max(1, Math.min(wanted, usable));
  const threadsPerLane = Math.max(1, Math.floor(usable / lanes));
  return { lanes, threadsPerLane, soloThreads: lanes > 1 ? usable : undefined };
}

/** "2 lanes of 1 thread": for logs and benchmark labels. */
export function describeLaneLayout(layout: Pick<LaneLayout, 'lanes' | 'threadsPerLane'>): string {
  const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;
  return `${plural(layout.lanes, 'lane')} of ${plural(layout.threadsPerLane, 'thread')}`;
}

/** Whether a lone run is enough faster on the solo lane to keep its session (and its memory). */
export function soloLanePays(soloMs: number, laneMs: number): boolean {
  return soloMs > 0 && laneMs > 0 && soloMs <= SOLO_LANE_MAX_TIME_RATIO * laneMs;
}
