/**
 * ONNX Runtime alone, in this process: the ceiling (length-sorted batches, tokenized and padded
 * before the clock starts) and the seed's way (tokenize, pad and run one text at a time).
 */
import * as ort from 'onnxruntime-node';
import {
  SentimentModel,
  describeLaneLayout,
  fitLine,
  laneLayout,
  openModelDirectory,
} from '@reputation-monitor/model-runtime';
import { PaddedBatch, SentimentTokenizer } from '@reputation-monitor/tokenizer';
import { ProcessMonitor } from '../process-metrics';
import type { Measurement, Variant } from '../results';
import { paddingFromTotals, perSecond, summarize } from '../stats';
import { lengthSortedBatches } from '../workload';

export interface ModelTask {
  modelDir: string;
  variant: Variant;
  threads: number;
}

/**
 * ONNX Runtime's defaults apart from the thread count: the best it does on its own. `spinning: false`
 * is what the worker runs with (libs/model-runtime turns intra-op spinning off so the queue, Redis and
 * the gateway get the cores between batches).
 */
async function openSession(task: ModelTask, spinning = true): Promise<ort.InferenceSession> {
  const directory = await openModelDirectory(task.modelDir, task.variant);
  return ort.InferenceSession.create(directory.modelPath, {
    intraOpNumThreads: task.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    ...(spinning ? {} : { extra: { session: { intra_op: { allow_spinning: '0' } } } }),
  });
}

async function runBatch(session: ort.InferenceSession, batch: PaddedBatch): Promise<void> {
  const dims = [batch.batchSize, batch.sequenceLength];
  await session.run({
    input_ids: new ort.Tensor('int64', batch.inputIds, dims),
    attention_mask: new ort.Tensor('int64', batch.attentionMask, dims),
  });
}

export interface RawTask extends ModelTask {
  texts: string[];
  batchSizes: number[];
  /**
   * Also run the batch sizes the way the worker does (its inference lanes and session options), through the
   * worker's own runtime (SentimentModel): `lanes` as INFERENCE_LANES (0: auto).
   */
  workerSettings?: { lanes: number };
  /** Only the worker's lanes, as a second reading after a served row (`raw-again-b16-worker:int8`, ...). */
  again?: true;
}

export async function rawCeiling(task: RawTask): Promise<Measurement[]> {
  const measurements = task.again ? [] : await sortedBatches(task, task.batchSizes);
  if (task.workerSettings) measurements.push(...(await laneBatches(task, task.workerSettings.lanes)));
  return measurements;
}

/**
 * Length-sorted batches on the worker's inference lanes (docs/adr/0009-inference-lanes.md): one session per
 * lane on a thread of its own, each taking the next batch as soon as it is free, no spinning.
 */
async function laneBatches(task: RawTask, requestedLanes: number): Promise<Measurement[]> {
  const tokenizer = await SentimentTokenizer.fromDirectory(task.modelDir);
  const encoded = task.texts.map((text) => tokenizer.encode(text).ids);
  const layout = laneLayout(task.threads, requestedLanes);
  const directory = await openModelDirectory(task.modelDir, task.variant);
  const lanes = await Promise.all(
    Array.from({ length: layout.lanes }, () =>
      SentimentModel.open(directory, { intraOpThreads: layout.threadsPerLane, allowSpinning: false }),
    ),
  );
  const layoutName = describeLaneLayout(layout);
  const measurements: Measurement[] = [];
  try {
    for (const size of task.batchSizes) {
      const batches = lengthSortedBatches(encoded, size).map((rows) => tokenizer.pad(rows));
      // Untimed: the shortest and the longest shapes on every lane.
      for (const lane of lanes)
        for (const batch of [batches[0], batches[batches.length - 1]]) await lane.run(batch);
      measurements.push({
        id: `raw${task.again ? '-again' : ''}-b${size}-worker:${task.variant}`,
        scenario: 'raw',
        variant: task.variant,
        label:
          `raw ONNX Runtime, length-sorted batches of ${size}, the worker's lanes (${layoutName}, no spinning)` +
          (task.again ? ', again after the batch requests' : ''),
        ...(await timedBatches(
          batches,
          lanes.map((lane) => (batch) => lane.run(batch)),
        )),
        extra: { lanes: layout.lanes, threadsPerLane: layout.threadsPerLane },
      });
    }
  } finally {
    await Promise.all(lanes.map((lane) => lane.close()));
  }
  return measurements;
}

type TimedRow = Omit<Measurement, 'id' | 'scenario' | 'variant' | 'label'>;

/** The batches on the runners, each taking the next batch as soon as it is free: rate, run latency, padding, CPU. */
async function timedBatches(
  batches: readonly PaddedBatch[],
  runners: ReadonlyArray<(batch: PaddedBatch) => Promise<unknown>>,
): Promise<TimedRow> {
  const monitor = new ProcessMonitor({ bench: process.pid }).start();
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    runners.map(async (run) => {
      while (next < batches.length) {
        const batch = batches[next++];
        const t0 = performance.now();
        await run(batch);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const usage = monitor.stop();
  const texts = batches.reduce((sum, batch) => sum + batch.batchSize, 0);
  const realTokens = batches.reduce((sum, batch) => sum + batch.realTokens, 0);
  const paddedTokens = batches.reduce((sum, batch) => sum + batch.realTokens + batch.padTokens, 0);
  return {
    status: 'ok',
    texts,
    tokens: realTokens,
    seconds,
    textsPerSecond: perSecond(texts, seconds),
    tokensPerSecond: perSecond(realTokens, seconds),
    latencyMs: summarize(latencies),
    latencyOf: 'run',
    paddingRatio: paddingFromTotals(realTokens, paddedTokens),
    ...usage,
  };
}

async function sortedBatches(task: RawTask, sizes: number[]): Promise<Measurement[]> {
  const tokenizer = await SentimentTokenizer.fromDirectory(task.modelDir);
  const encoded = task.texts.map((text) => tokenizer.encode(text).ids);
  const session = await openSession(task);
  const measurements: Measurement[] = [];
  try {
    for (const size of sizes) {
      const batches = lengthSortedBatches(encoded, size).map((rows) => tokenizer.pad(rows));
      // Untimed: the shortest and the longest shapes, so nothing is initialised on the clock.
      await runBatch(session, batches[0]);
      await runBatch(session, batches[batches.length - 1]);
      measurements.push({
        id: `raw-b${size}:${task.variant}`,
        scenario: 'raw',
        variant: task.variant,
        label: `raw ONNX Runtime, length-sorted batches of ${size}`,
        ...(await timedBatches(batches, [(batch) => runBatch(session, batch)])),
      });
    }
  } finally {
    await session.release();
  }
  return measurements;
}

export interface BatchOfOneTask extends ModelTask {
  texts: string[];
  id: string;
  scenario: string;
  label: string;
  spinning?: boolean;
  /** Idle this long before each text (off the clock). */
  gapMs?: number;
}

/** One ONNX Runtime run per text, batch of one, one text after the other (tokenizing each on the clock). */
export async function batchOfOne(task: BatchOfOneTask): Promise<Measurement> {
  const tokenizer = await SentimentTokenizer.fromDirectory(task.modelDir);
  const session = await openSession(task, task.spinning ?? true);
  try {
    for (const text of task.texts.slice(0, 3))
      await runBatch(session, tokenizer.pad([tokenizer.encode(text).ids]));
    const monitor = new ProcessMonitor({ bench: process.pid }).start();
    const latencies: number[] = [];
    let tokens = 0;
    let idleMs = 0;
    const started = performance.now();
    for (const text of task.texts) {
      if (task.gapMs) {
        const idleFrom = performance.now();
        await new Promise((resolve) => setTimeout(resolve, task.gapMs));
        idleMs += performance.now() - idleFrom;
      }
      const t0 = performance.now();
      const batch = tokenizer.pad([tokenizer.encode(text).ids]);
      await runBatch(session, batch);
      latencies.push(performance.now() - t0);
      tokens += batch.realTokens;
    }
    const seconds = (performance.now() - started - idleMs) / 1000;
    return {
      id: task.id,
      scenario: task.scenario,
      variant: task.variant,
      label: task.label,
      status: 'ok',
      texts: task.texts.length,
      tokens,
      seconds,
      textsPerSecond: perSecond(task.texts.length, seconds),
      tokensPerSecond: perSecond(tokens, seconds),
      latencyMs: summarize(latencies),
      latencyOf: 'run',
      paddingRatio: 0,
      ...monitor.stop(),
    };
  } finally {
    await session.release();
  }
}

export interface CostTask extends ModelTask {
  batchSizes: number[];
  widths: number[];
  /** Shapes over this many padded tokens are left out (the worker's BATCH_MAX_TOKENS bounds its runs too). */
  maxTokens: number;
  repeats: number;
  /** INFERENCE_LANES (0: auto): the grid runs on one lane's session, alone, as the worker calibrates it. */
  lanes: number;
}

/**
 * What one run costs by batch size and padded length on one of the worker's lanes, alone (its intra-op threads,
 * no spinning):
 * every shape of the grid `repeats` times, in a rotating order, the fastest time of each kept (interference
 * only ever adds time), and the least-squares line ms = overhead + perToken · texts · width through them.
 * That line is the packing policy's cost model (libs/model-runtime packing-policy.ts), which the worker
 * calibrates and refits on its own; this row shows how well a line describes the graph.
 */
export async function runCostGrid(task: CostTask): Promise<Measurement[]> {
  const tokenizer = await SentimentTokenizer.fromDirectory(task.modelDir);
  const [bos, word, eos] = tokenizer.encode('the').ids;
  const threads = laneLayout(task.threads, task.lanes).threadsPerLane;
  const session = await openSession({ ...task, threads }, false);
  const shapes = task.batchSizes.flatMap((texts) =>
    task.widths.filter((width) => texts * width <= task.maxTokens).map((width) => [texts, width] as const),
  );
  const batches = shapes.map(([texts, width]) =>
    tokenizer.pad(Array.from({ length: texts }, () => [bos, ...Array<number>(width - 2).fill(word), eos])),
  );
  try {
    for (const batch of batches) await runBatch(session, batch); // untimed: every shape once
    const monitor = new ProcessMonitor({ bench: process.pid }).start();
    const fastest = shapes.map(() => Infinity);
    const started = performance.now();
    for (let round = 0; round < task.repeats; round++) {
      for (let k = 0; k < shapes.length; k++) {
        const index = (k + round * 7) % shapes.length;
        const t0 = performance.now();
        await runBatch(session, batches[index]);
        fastest[index] = Math.min(fastest[index], performance.now() - t0);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const usage = monitor.stop();
    const points = shapes.map(([texts, width], index) => [texts * width, fastest[index]] as const);
    // Relative errors: the small runs, where the overhead shows, count as much as the large ones.
    const line = fitLine(points, (_, ms) => 1 / (ms * ms));
    const overheadMs = line?.intercept ?? NaN;
    const perTokenMs = line?.slope ?? NaN;
    const cells: Record<string, number> = {};
    shapes.forEach(([texts, width], index) => (cells[`ms_${texts}x${width}`] = fastest[index]));
    const worst = Math.max(
      ...points.map(([tokens, ms]) => Math.abs(ms / (overheadMs + perTokenMs * tokens) - 1)),
    );
    const perToken = (texts: number, width: number) => {
      const index = shapes.findIndex(([t, w]) => t === texts && w === width);
      return index < 0 ? undefined : fastest[index] / (texts * width);
    };
    // Where the price per token is least and where it rises again: past a few hundred tokens a run's
    // activations outgrow the core's caches (ADR 0008, round 12 addendum).
    const perTokenCells = (
      [
        [1, task.widths[0]],
        [16, 32],
        [32, 32],
        [32, 64],
      ] as const
    )
      .map(([texts, width]) => ({ texts, width, ms: perToken(texts, width) }))
      .filter((cell) => cell.ms !== undefined)
      .map(({ texts, width, ms }) => `${ms?.toFixed(3)} at ${texts} x ${width}`);
    return [
      {
        id: `cost:${task.variant}`,
        scenario: 'cost',
        variant: task.variant,
        label: `one run's time by batch size (${task.batchSizes.join(', ')}) and padded length (${task.widths.join(', ')}), one lane of ${threads} thread${threads > 1 ? 's' : ''}, the worker's session options`,
        status: 'ok',
        texts: shapes.reduce((sum, [texts]) => sum + texts, 0) * task.repeats,
        seconds,
        note:
          `a run costs ${overheadMs.toFixed(1)} ms + ${perTokenMs.toFixed(3)} ms per padded token ` +
          `(= ${(overheadMs / perTokenMs).toFixed(1)} tokens of overhead; least relative squares over ${shapes.length} shapes, ` +
          `fastest of ${task.repeats}, worst cell ${(worst * 100).toFixed(0)} % off the line)` +
          (perTokenCells.length > 0 ? `; ms per padded token: ${perTokenCells.join(', ')}` : ''),
        ...usage,
        extra: {
          overheadMs,
          perTokenMs,
          overheadTokens: overheadMs / perTokenMs,
          worstCellOffLine: worst,
          ...cells,
        },
      },
    ];
  } finally {
    await session.release();
  }
}
