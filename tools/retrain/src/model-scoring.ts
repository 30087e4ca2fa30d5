import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SENTIMENT_LABELS } from '@reputation-monitor/contracts';
import {
  ModelDirectory,
  ModelVariant,
  SentimentModel,
  openModelDirectory,
} from '@reputation-monitor/model-runtime';
import {
  ClassifierHead,
  findClassifierHead,
  readModelFile,
  withFeatureOutput,
  writeModelFile,
} from '@reputation-monitor/onnx-graph';
import { SentimentTokenizer } from '@reputation-monitor/tokenizer';
import { Progress } from './progress';

/** Texts per ONNX Runtime run; sorted by length first, so a batch pads little. */
const BATCH_TEXTS = 32;

export interface ScoreOptions {
  variant?: ModelVariant;
  intraOpThreads?: number;
  /** Shown on the progress bar; no bar when undefined. */
  label?: string;
}

export interface ScoredTexts {
  /** Predicted label index per text, in input order. */
  labels: Int32Array;
  /** Softmax rows, in input order. */
  scores: number[][];
}

export interface ExtractedFeatures extends ScoredTexts {
  head: ClassifierHead;
  /** [texts, head.featureSize], row-major, in input order. */
  features: Float32Array;
}

/**
 * Runs a model directory over texts exactly as the worker would (its tokenizer, preprocessing and ONNX
 * Runtime session) and returns labels and scores. With `features`, the graph is first given the
 * classification head's input as an extra output, and those features come back too.
 */
export async function scoreTexts(
  modelDir: string,
  texts: readonly string[],
  options: ScoreOptions = {},
): Promise<ScoredTexts> {
  const directory = await openModelDirectory(modelDir, options.variant ?? 'fp32');
  const model = await SentimentModel.open(directory, {
    intraOpThreads: options.intraOpThreads ?? 0,
    warmup: false,
  });
  try {
    const { labels, scores } = await run(model, directory, texts, undefined, options.label);
    return { labels, scores };
  } finally {
    await model.close();
  }
}

export async function extractFeatures(
  modelDir: string,
  texts: readonly string[],
  options: Omit<ScoreOptions, 'variant'> = {},
): Promise<ExtractedFeatures> {
  const directory = await openModelDirectory(modelDir, 'fp32');
  const graph = await readModelFile(directory.modelPath);
  const head = findClassifierHead(graph);
  const scratch = await mkdtemp(join(tmpdir(), 'retrain-features-'));
  try {
    const featureGraph = join(scratch, 'features.onnx');
    await writeModelFile(featureGraph, withFeatureOutput(graph, head));
    const model = await SentimentModel.open(
      { ...directory, modelPath: featureGraph },
      { intraOpThreads: options.intraOpThreads ?? 0, warmup: false, extraOutputs: [head.featureName] },
    );
    try {
      const result = await run(model, directory, texts, head, options.label);
      return { ...result, head, features: result.features! };
    } finally {
      await model.close();
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function run(
  model: SentimentModel,
  directory: ModelDirectory,
  texts: readonly string[],
  head: ClassifierHead | undefined,
  label: string | undefined,
): Promise<ScoredTexts & { features?: Float32Array }> {
  const tokenizer = await SentimentTokenizer.fromDirectory(directory.dir);
  const encoded = texts.map((text) => tokenizer.encode(text).ids);
  const order = encoded.map((_, index) => index).sort((a, b) => encoded[a].length - encoded[b].length);
  const labels = new Int32Array(texts.length);
  const scores: number[][] = new Array(texts.length);
  const features = head ? new Float32Array(texts.length * head.featureSize) : undefined;
  const progress = label ? new Progress(label, texts.length, 'texts') : undefined;
  try {
    for (let start = 0; start < order.length; start += BATCH_TEXTS) {
      const rows = order.slice(start, start + BATCH_TEXTS);
      const output = await model.run(tokenizer.pad(rows.map((row) => encoded[row])));
      rows.forEach((row, position) => {
        scores[row] = output.scores[position];
        labels[row] = argmax(output.scores[position]);
        if (head && features) {
          const values = output.extra[head.featureName].data;
          features.set(
            values.subarray(position * head.featureSize, (position + 1) * head.featureSize),
            row * head.featureSize,
          );
        }
      });
      progress?.update(Math.min(start + BATCH_TEXTS, order.length));
    }
  } finally {
    progress?.stop();
  }
  return { labels, scores, ...(features && { features }) };
}

function argmax(row: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < SENTIMENT_LABELS.length; i++) if (row[i] > row[best]) best = i;
  return best;
}
