/**
 * How the micro-batcher cuts the waiting texts into inference runs (docs/adr/0008-packing-by-cost-model.md).
 *
 * A run of `texts` texts padded to `width` tokens costs about `overheadMs + perTokenMs · texts · width`:
 * ONNX Runtime pays a fixed price per run (op dispatch, waking its threads, small GEMMs) and then the same
 * for every padded token, real or not. The policy sorts the waiting texts by length and splits the sorted
 * list at the cut points that make the estimated total time of all the runs least (dynamic programming
 * over the cut points, within the hard limits), so it pads only where a separate run would cost more, and
 * runs the piece that holds the oldest text (nothing starves). Pure and deterministic: the cost model is
 * passed in.
 */

/** Estimated time of one inference run. */
export interface RunCost {
  /** Milliseconds for a run of `texts` texts padded to `width` tokens each. */
  estimate(texts: number, width: number): number;
}

/** Hard limits of one run, whatever the cost model says. */
export interface PackingLimits {
  /** Padded tokens (texts x longest) per run. */
  maxTokens: number;
  maxTexts: number;
  /** Largest share of pad tokens in a run (1: only the cost model decides). */
  maxPaddingRatio: number;
}

/** The worker's defaults (BATCH_MAX_TOKENS, BATCH_MAX_TEXTS, BATCH_MAX_PADDING; the cost model weighs padding). */
export const DEFAULT_PACKING_LIMITS: PackingLimits = { maxTokens: 4096, maxTexts: 64, maxPaddingRatio: 1 };

/**
 * Sorted texts beyond this many are left out of the search (the ones farthest in length from the oldest
 * text): the cut points near the oldest text do not depend on them, and the search stays O(n · maxTexts).
 */
export const MAX_PLANNED_TEXTS = 512;

/**
 * The next run: indices into `lengths` (token counts of the waiting texts, in arrival order, so index 0
 * is the oldest), in ascending length. Never empty when `lengths` is not; every text must fit `maxTokens`.
 */
export function planBatch(lengths: readonly number[], cost: RunCost, limits: PackingLimits): number[] {
  if (lengths.length === 0) return [];
  // Ascending length; among equal lengths the older first (a stable sort of arrival order).
  let order = lengths.map((_, index) => index).sort((a, b) => lengths[a] - lengths[b] || a - b);
  if (order.length > MAX_PLANNED_TEXTS) {
    const oldestAt = order.indexOf(0);
    const start = Math.max(0, Math.min(oldestAt - MAX_PLANNED_TEXTS / 2, order.length - MAX_PLANNED_TEXTS));
    order = order.slice(start, start + MAX_PLANNED_TEXTS);
  }
  const n = order.length;
  const at = (position: number) => lengths[order[position]];
  /** Estimated time of one run of sorted texts [start, end), or Infinity where the limits forbid it. */
  const runCost = (start: number, end: number, real: number): number => {
    const texts = end - start;
    const width = at(end - 1);
    if (texts > limits.maxTexts || texts * width > limits.maxTokens) return Infinity;
    // A single text always fits (it is its own width), so every plan exists.
    if (texts > 1 && 1 - real / (texts * width) > limits.maxPaddingRatio) return Infinity;
    return cost.estimate(texts, width);
  };
  // before[j]: least estimated time of the sorted texts [0, j); after[i]: of [i, n).
  const before = new Float64Array(n + 1).fill(Infinity);
  before[0] = 0;
  for (let end = 1; end <= n; end++) {
    let real = 0;
    for (let start = end - 1; start >= 0 && end - start <= limits.maxTexts; start--) {
      real += at(start);
      before[end] = Math.min(before[end], before[start] + runCost(start, end, real));
    }
  }
  const after = new Float64Array(n + 1).fill(Infinity);
  after[n] = 0;
  for (let start = n - 1; start >= 0; start--) {
    let real = 0;
    for (let end = start + 1; end <= n && end - start <= limits.maxTexts; end++) {
      real += at(end - 1);
      after[start] = Math.min(after[start], runCost(start, end, real) + after[end]);
    }
  }
  // The run holding the oldest text in a plan of least total time; of equally good ones the longest, so
  // what is left to wait is as little as the plan allows.
  const oldest = order.indexOf(0);
  let chosen: [number, number] = [oldest, oldest + 1];
  let least = Infinity;
  for (let start = oldest; start >= 0 && oldest - start < limits.maxTexts; start--) {
    let real = 0;
    for (let i = start; i < oldest; i++) real += at(i);
    for (let end = oldest + 1; end <= n && end - start <= limits.maxTexts; end++) {
      real += at(end - 1);
      const total = before[start] + runCost(start, end, real) + after[end];
      const tie = Number.isFinite(least) && Math.abs(total - least) <= 1e-9 * Math.max(1, least);
      if ((total < least && !tie) || (tie && end - start > chosen[1] - chosen[0])) {
        least = total;
        chosen = [start, end];
      }
    }
  }
  return order.slice(chosen[0], chosen[1]);
}

/** The linear cost model: a fixed price per run plus the same for every padded token. */
export class LinearRunCost implements RunCost {
  constructor(
    readonly overheadMs: number,
    readonly perTokenMs: number,
  ) {}

  estimate(texts: number, width: number): number {
    return this.overheadMs + this.perTokenMs * texts * width;
  }
}

/**
 * Shapes (texts x width) timed at load to fit the cost model: one short text, then batches up to 16
 * texts of 32 tokens (what tweets make), within the limits.
 */
export function calibrationShapes(
  limits: Pick<PackingLimits, 'maxTokens' | 'maxTexts'>,
): Array<[number, number]> {
  const shapes: Array<[number, number]> = [[1, 16]];
  for (const texts of [1, 4, 16]) {
    const fitting = Math.max(1, Math.min(texts, limits.maxTexts, Math.floor(limits.maxTokens / 32)));
    if (!shapes.some(([t, w]) => t === fitting && w === 32)) shapes.push([fitting, 32]);
  }
  return shapes;
}

/**
 * The cost model of the graph being served, on this machine: each shape is timed `repeats` times and
 * its fastest time kept (interference only ever adds time), then the line through those points with the
 * least relative squared error (so the small runs, where the overhead shows, count as much as the large
 * ones). Falls back to `fallback` when the times make no rising line (noise on a tiny graph).
 *
 * Once, at load, rather than refitted from the runs served: on a shared machine the time of a run also
 * depends on what else ran meanwhile, and a line fitted to such times drifts (an overhead of 0 one minute,
 * of 40 tokens the next), while the fastest of a few runs of each shape is stable.
 */
export async function calibrateRunCost(
  time: (texts: number, width: number) => Promise<number>,
  shapes: ReadonlyArray<[number, number]>,
  fallback: LinearRunCost,
  repeats = 3,
): Promise<LinearRunCost> {
  const fastest = shapes.map(() => Infinity);
  // Round-robin over the shapes, so a burst of interference does not fall on one shape's every run.
  for (let round = 0; round < repeats; round++) {
    for (let index = 0; index < shapes.length; index++) {
      const [texts, width] = shapes[index];
      fastest[index] = Math.min(fastest[index], await time(texts, width));
    }
  }
  const points = shapes.map(([texts, width], index): [number, number] => [texts * width, fastest[index]]);
  const line = fitLine(
    points.filter(([, y]) => y > 0 && Number.isFinite(y)),
    (_x, y) => 1 / (y * y),
  );
  // A line that rises by less than 1 % of the fastest run across the shapes says nothing about tokens.
  const xs = points.map(([x]) => x);
  const rise = (line?.slope ?? NaN) * (Math.max(...xs) - Math.min(...xs));
  if (!line || !(rise > 0.01 * Math.min(...fastest))) return fallback;
  return new LinearRunCost(Math.max(0, line.intercept), line.slope);
}

/**
 * Least-squares line y = intercept + slope · x through the points, each weighted by `weight(x, y)` (default
 * 1; `1 / y²` fits relative errors, so small and large runs count alike); undefined without two distinct x.
 */
export function fitLine(
  points: ReadonlyArray<readonly [number, number]>,
  weight: (x: number, y: number) => number = () => 1,
): { intercept: number; slope: number } | undefined {
  let w = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (const [x, y] of points) {
    const k = weight(x, y);
    w += k;
    sx += k * x;
    sy += k * y;
    sxx += k * x * x;
    sxy += k * x * y;
  }
  const spread = w * sxx - sx * sx;
  if (points.length < 2 || !(spread > 1e-12 * Math.max(1e-300, w * sxx))) return undefined;
  const slope = (w * sxy - sx * sy) / spread;
  return { intercept: (sy - slope * sx) / w, slope };
}
