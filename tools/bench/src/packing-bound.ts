/**
 * How close single requests can come to the raw ceiling by packing alone (docs/adr/0008-packing-by-cost-model.md).
 * The worker's own policy (`planBatch`) and cost line, on the workload's token lengths, in a closed loop of
 * `clients` clients where nothing but the model takes time. One thing is kept from the real system: the texts of
 * a run come back as new texts only after the next run has been planned, because the worker plans the next run
 * the moment one ends, before any answer can reach a client. That alone puts the waiting pool at `clients` minus
 * the last run, which matches the measured runs (texts per run, padding) within a few percent. With several inference
 * lanes (docs/adr/0009-inference-lanes.md) that many runs are in flight, and a lane plans its next run before the
 * texts of its last one come back; lanes are taken to finish in the order they started.
 */
import {
  DEFAULT_PACKING_LIMITS,
  LinearRunCost,
  PackingLimits,
  laneLayout,
  planBatch,
} from '@reputation-monitor/model-runtime';
import { SentimentTokenizer } from '@reputation-monitor/tokenizer';
import type { Measurement } from './results';
import { chunk } from './workload';

export interface PackingBound {
  /** Model time of the raw ceiling's batching (length-sorted batches of 16 or 32, the better) / the loop's. */
  ratio: number;
  textsPerRun: number;
  padding: number;
}

/** Model time of length-sorted batches of `size` under the cost line. */
function sortedBatchesMs(lengths: readonly number[], cost: LinearRunCost, size: number): number {
  const batches = chunk(
    [...lengths].sort((a, b) => a - b),
    size,
  );
  return batches.reduce((ms, batch) => ms + cost.estimate(batch.length, batch[batch.length - 1]), 0);
}

/**
 * Plays `rounds` passes over `lengths` (token counts, in workload order) through the loop; the ratio compares
 * model time per text with the raw ceiling's sorted batches of the same lengths.
 */
export function packingBound(
  lengths: readonly number[],
  cost: LinearRunCost,
  clients: number,
  limits: PackingLimits,
  {
    rounds = 10,
    lanes = 1,
    waitForReturns = false,
  }: {
    rounds?: number;
    lanes?: number;
    /**
     * A lane that frees waits until its own last run's texts are back before it plans (the "wait briefly
     * for more texts"), and the wait costs no model time: what such a policy could allow at best.
     */
    waitForReturns?: boolean;
  } = {},
): PackingBound {
  if (lengths.length === 0 || clients < 1) throw new RangeError('needs texts and at least one client');
  let next = 0;
  const draw = () => lengths[next++ % lengths.length];
  let pool = Array.from({ length: Math.min(clients, lengths.length) }, draw);
  /** Texts of the runs in flight, oldest first. */
  const inFlight: number[] = [];
  const giveBack = () => {
    for (let count = inFlight.shift() ?? 0; count > 0; count--) pool.push(draw());
  };
  let served = 0;
  let runs = 0;
  let modelMs = 0;
  let realTokens = 0;
  let paddedTokens = 0;
  const total = lengths.length * rounds;
  while (served < total) {
    if (waitForReturns && inFlight.length >= lanes) giveBack();
    const picked = planBatch(pool, cost, limits);
    const width = Math.max(...picked.map((index) => pool[index]));
    modelMs += cost.estimate(picked.length, width);
    realTokens += picked.reduce((sum, index) => sum + pool[index], 0);
    paddedTokens += picked.length * width;
    served += picked.length;
    runs += 1;
    const taken = new Set(picked);
    pool = pool.filter((_, index) => !taken.has(index));
    // The clients of the run that ended on this lane send their next texts now, after this run was planned.
    inFlight.push(picked.length);
    if (inFlight.length > lanes) giveBack();
    // Nothing left to plan: the free lane waits for the oldest run's clients.
    while (pool.length === 0 && inFlight.length > 0) giveBack();
  }
  const ceilingMs = Math.min(sortedBatchesMs(lengths, cost, 16), sortedBatchesMs(lengths, cost, 32));
  return {
    ratio: (ceilingMs * served) / lengths.length / modelMs,
    textsPerRun: served / runs,
    padding: 1 - realTokens / paddedTokens,
  };
}

/** INFERENCE_LANES under `--worker-env` (0, auto, where not set or not a positive integer). */
export function workerLanes(env: Record<string, string>): number {
  const lanes = Number(env.INFERENCE_LANES ?? 0);
  return Number.isInteger(lanes) && lanes > 0 ? lanes : 0;
}

/** The worker's run limits under `--worker-env` (its defaults where not set). */
export function workerLimits(env: Record<string, string>): PackingLimits {
  const number = (name: string, fallback: number) => {
    const value = env[name] === undefined ? NaN : Number(env[name]);
    return Number.isFinite(value) ? value : fallback;
  };
  return {
    maxTokens: number('BATCH_MAX_TOKENS', DEFAULT_PACKING_LIMITS.maxTokens),
    maxTexts: number('BATCH_MAX_TEXTS', DEFAULT_PACKING_LIMITS.maxTexts),
    maxPaddingRatio: number('BATCH_MAX_PADDING', DEFAULT_PACKING_LIMITS.maxPaddingRatio),
  };
}

/**
 * The served row with its packing bound: the loop above with the worker's calibrated line (from the row) and the
 * workload's token lengths as the worker's tokenizer counts them. Rows without a cost line are left as they are.
 */
export async function withPackingBound(
  row: Measurement,
  modelDir: string,
  texts: readonly string[],
  clients: number,
  workerEnv: Record<string, string> = {},
  /** The worker's INTRA_OP_THREADS, for its lane layout. */
  threads = 1,
): Promise<Measurement> {
  const overheadMs = Number(row.extra?.runOverheadMs);
  const perTokenMs = Number(row.extra?.runPerTokenMs);
  if (!(perTokenMs > 0) || !(overheadMs >= 0)) return row;
  const tokenizer = await SentimentTokenizer.fromDirectory(modelDir);
  const lengths = texts.map((text) => tokenizer.encode(text).ids.length);
  const cost = new LinearRunCost(overheadMs, perTokenMs);
  const limits = workerLimits(workerEnv);
  const { lanes } = laneLayout(threads, workerLanes(workerEnv));
  const play = (waitForReturns: boolean) =>
    packingBound(lengths, cost, clients, limits, { lanes, waitForReturns });
  const bound = play(false);
  const waiting = play(true);
  return {
    ...row,
    note:
      `${row.note ?? ''}; packing alone allows ${bound.ratio.toFixed(2)} of the ceiling ` +
      `(${bound.textsPerRun.toFixed(1)} texts per run, ${(bound.padding * 100).toFixed(1)} % padding), ` +
      `${waiting.ratio.toFixed(2)} if each lane waited for its last run's texts at no cost`,
    extra: {
      ...row.extra,
      packingBound: bound.ratio,
      packingBoundTextsPerRun: bound.textsPerRun,
      packingBoundPadding: bound.padding,
      packingBoundWaiting: waiting.ratio,
    },
  };
}
