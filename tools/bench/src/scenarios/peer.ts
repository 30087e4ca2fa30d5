/**
 * The peer: the `@huggingface/transformers` text-classification pipeline on the same model directory
 * (`onnx/model.onnx` as dtype fp32, `onnx/model_quantized.onnx` as q8), strictly offline, with the
 * same intra-op thread count. Texts get the model card's preprocessing first (as the worker applies
 * it), so both tokenize to the same ids; that is checked on the first texts.
 */
import { basename, dirname } from 'node:path';
import { openModelDirectory } from '@reputation-monitor/model-runtime';
import { preprocessTweet, SentimentTokenizer } from '@reputation-monitor/tokenizer';
import { ProcessMonitor } from '../process-metrics';
import type { Measurement } from '../results';
import { paddingRatio, perSecond, summarize } from '../stats';
import { chunk } from '../workload';
import type { ModelTask } from './raw';

export interface PeerTask extends ModelTask {
  singleTexts: string[];
  batchTexts: string[];
  batchSize: number;
}

type Classifier = ((texts: string | string[]) => Promise<unknown>) & {
  tokenizer: (text: string) => { input_ids: { data: ArrayLike<bigint | number> } };
  dispose(): Promise<void>;
};

export async function transformersJs(task: PeerTask): Promise<Measurement[]> {
  // Fails with the layout's own message when the variant's graph is missing.
  await openModelDirectory(task.modelDir, task.variant);
  const transformers = await import('@huggingface/transformers');
  const { env } = transformers;
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = dirname(task.modelDir);
  env.useFSCache = false;
  env.useBrowserCache = false;
  env.fetch = async (url: string | URL) => {
    throw new Error(`offline benchmark: transformers.js tried to fetch ${String(url)}`);
  };
  const classifier = (await transformers.pipeline('text-classification', basename(task.modelDir), {
    dtype: task.variant === 'int8' ? 'q8' : 'fp32',
    device: 'cpu',
    local_files_only: true,
    session_options: { intraOpNumThreads: task.threads },
  })) as unknown as Classifier;

  const tokenizer = await SentimentTokenizer.fromDirectory(task.modelDir);
  const lengthOf = new Map<string, number>();
  for (const text of [...task.singleTexts, ...task.batchTexts])
    lengthOf.set(text, tokenizer.encode(text).ids.length);
  const mismatches = task.singleTexts.slice(0, 16).filter((text) => {
    const theirs = Array.from(classifier.tokenizer(preprocessTweet(text)).input_ids.data, Number);
    return theirs.join(',') !== tokenizer.encode(text).ids.join(',');
  }).length;
  const tokensOf = (texts: readonly string[]) =>
    texts.reduce((sum, text) => sum + (lengthOf.get(text) ?? 0), 0);
  const extra = { tokenizerMismatchesOfFirst16: mismatches, dtype: task.variant === 'int8' ? 'q8' : 'fp32' };

  const measure = async (
    calls: string[][],
    id: string,
    label: string,
    padding: number,
  ): Promise<Measurement> => {
    const inputs = calls.map((texts) => texts.map(preprocessTweet));
    await classifier(inputs[0].length === 1 ? inputs[0][0] : inputs[0]); // warm-up, untimed
    const monitor = new ProcessMonitor({ bench: process.pid }).start();
    const latencies: number[] = [];
    const started = performance.now();
    for (const input of inputs) {
      const t0 = performance.now();
      await classifier(input.length === 1 ? input[0] : input);
      latencies.push(performance.now() - t0);
    }
    const seconds = (performance.now() - started) / 1000;
    const texts = calls.flat();
    const tokens = tokensOf(texts);
    return {
      id,
      scenario: 'peer',
      variant: task.variant,
      label,
      status: 'ok',
      texts: texts.length,
      tokens,
      seconds,
      textsPerSecond: perSecond(texts.length, seconds),
      tokensPerSecond: perSecond(tokens, seconds),
      latencyMs: summarize(latencies),
      latencyOf: 'call',
      paddingRatio: padding,
      ...monitor.stop(),
      extra,
    };
  };

  try {
    const batches = chunk(task.batchTexts, task.batchSize);
    return [
      await measure(
        task.singleTexts.map((text) => [text]),
        `peer-single:${task.variant}`,
        'transformers.js pipeline, one text per call',
        0,
      ),
      await measure(
        batches,
        `peer-batch:${task.variant}`,
        `transformers.js pipeline, batch calls of ${task.batchSize} (its own padding, unsorted)`,
        paddingRatio(batches.map((texts) => texts.map((text) => lengthOf.get(text) ?? 0))),
      ),
    ];
  } finally {
    await classifier.dispose();
  }
}
