/**
 * The int8 graph with signed and with unsigned weights, side by side: both quantized from the directory's
 * fp32 graph with the same settings but the weight type, run on the same length-sorted batches of the same
 * texts, alternating batch by batch (and which goes first), so that whatever else the machine does weighs
 * on both alike. The ratio of their times is the figure; on a CPU with VNNI/AMX signed weights take
 * ONNX Runtime's u8 x s8 dot-product kernel.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  modelPaths,
  quantizeModelFile,
  readCpuFeatures,
  type WeightType,
} from '@reputation-monitor/onnx-graph';
import { PaddedBatch, SentimentTokenizer } from '@reputation-monitor/tokenizer';
import { ProcessMonitor } from '../process-metrics';
import type { Measurement } from '../results';
import { paddingFromTotals, perSecond, summarize } from '../stats';
import { lengthSortedBatches } from '../workload';

export const WEIGHT_TYPES: readonly WeightType[] = ['uint8', 'int8'];

export interface WeightsTask {
  modelDir: string;
  threads: number;
  texts: string[];
  batchSize: number;
  /** Where the two quantized graphs are kept between runs. */
  cacheDir: string;
}

/**
 * The directory's fp32 graph quantized with each weight type (per column, MatMulInteger: the quantizer's
 * defaults), made once per fp32 file and kept under cacheDir.
 */
export async function weightTypeGraphs(
  modelDir: string,
  cacheDir: string,
  log: (message: string) => void = () => undefined,
): Promise<Record<WeightType, string>> {
  const { fp32 } = modelPaths(modelDir);
  const { size, mtimeMs } = statSync(fp32);
  const dir = join(cacheDir, `${basename(modelDir)}-${size}-${Math.round(mtimeMs)}`);
  mkdirSync(dir, { recursive: true });
  const graphs = {} as Record<WeightType, string>;
  for (const weightType of WEIGHT_TYPES) {
    const path = join(dir, `model_quantized.${weightType}.onnx`);
    if (!existsSync(path)) {
      log(`quantizing ${fp32} with ${weightType} weights into ${path}`);
      await quantizeModelFile(fp32, path, { weightType });
    }
    graphs[weightType] = path;
  }
  return graphs;
}

function feeds(batch: PaddedBatch): Record<string, ort.Tensor> {
  const dims = [batch.batchSize, batch.sequenceLength];
  return {
    input_ids: new ort.Tensor('int64', batch.inputIds, dims),
    attention_mask: new ort.Tensor('int64', batch.attentionMask, dims),
  };
}

export async function weightTypesSideBySide(task: WeightsTask): Promise<Measurement[]> {
  const graphs = await weightTypeGraphs(task.modelDir, task.cacheDir);
  const tokenizer = await SentimentTokenizer.fromDirectory(task.modelDir);
  const batches = lengthSortedBatches(
    task.texts.map((text) => tokenizer.encode(text).ids),
    task.batchSize,
  ).map((rows) => tokenizer.pad(rows));
  const options: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: task.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
  const sessions = await Promise.all(
    WEIGHT_TYPES.map((weightType) => ort.InferenceSession.create(graphs[weightType], options)),
  );
  try {
    for (const session of sessions) {
      // Untimed: the shortest and the longest shapes, so nothing is initialised on the clock.
      await session.run(feeds(batches[0]));
      await session.run(feeds(batches[batches.length - 1]));
    }
    const latencies = WEIGHT_TYPES.map((): number[] => []);
    const ratios: number[] = [];
    const monitor = new ProcessMonitor({ bench: process.pid }).start();
    for (const [index, batch] of batches.entries()) {
      const order = index % 2 === 0 ? [0, 1] : [1, 0];
      const input = feeds(batch);
      for (const which of order) {
        const started = performance.now();
        await sessions[which].run(input);
        latencies[which].push(performance.now() - started);
      }
      ratios.push(latencies[0][index] / latencies[1][index]);
    }
    const usage = monitor.stop();
    const realTokens = batches.reduce((sum, batch) => sum + batch.realTokens, 0);
    const paddedTokens = batches.reduce((sum, batch) => sum + batch.realTokens + batch.padTokens, 0);
    const int8Flags = readCpuFeatures().int8Flags.join(' ') || 'none';
    const perBatchRatio = summarize(ratios).p50;
    return WEIGHT_TYPES.map((weightType, which): Measurement => {
      const seconds = latencies[which].reduce((sum, ms) => sum + ms, 0) / 1000;
      return {
        id: `weights-${weightType}:int8`,
        scenario: 'weights',
        variant: 'int8',
        label: `raw ONNX Runtime, batches of ${task.batchSize}, ${weightType} weights (alternating with ${WEIGHT_TYPES[1 - which]})`,
        status: 'ok',
        texts: task.texts.length,
        tokens: realTokens,
        seconds,
        textsPerSecond: perSecond(task.texts.length, seconds),
        tokensPerSecond: perSecond(realTokens, seconds),
        latencyMs: summarize(latencies[which]),
        latencyOf: 'run',
        paddingRatio: paddingFromTotals(realTokens, paddedTokens),
        // Both graphs ran inside the one window: the CPU figures are for the pair.
        ...usage,
        note:
          which === 1
            ? `${perBatchRatio.toFixed(2)}x uint8 per batch (median); CPU int8 flags: ${int8Flags}`
            : 'CPU figures for both rows together',
        extra: { graph: graphs[weightType], int8Flags, perBatchRatioMedian: perBatchRatio },
      };
    });
  } finally {
    await Promise.all(sessions.map((session) => session.release()));
  }
}
