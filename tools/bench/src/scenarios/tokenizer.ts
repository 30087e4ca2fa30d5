/**
 * The tokenizer alone, in this process: the library on each whole text against the piece cache
 * (libs/tokenizer), on the same tweets. The first pass of each starts from a fresh tokenizer (every word
 * new to its caches); the warm passes alternate between the two, and the median is reported.
 */
import { SentimentTokenizer } from '@reputation-monitor/tokenizer';
import type { Measurement } from '../results';
import { percentile } from '../stats';

export interface TokenizerTask {
  modelDir: string;
  texts: string[];
  warmPasses: number;
}

const WAYS = [
  { key: 'whole', label: 'tokenizer: @huggingface/tokenizers on each whole text', pieceCacheSize: 0 },
  {
    key: 'pieces',
    label: 'tokenizer: piece by piece through the piece cache (the worker)',
    pieceCacheSize: undefined,
  },
] as const;

export async function tokenizerSideBySide(task: TokenizerTask): Promise<Measurement[]> {
  const tokenizers = await Promise.all(
    WAYS.map((way) =>
      SentimentTokenizer.fromDirectory(task.modelDir, { pieceCacheSize: way.pieceCacheSize }),
    ),
  );
  const pass = (tokenizer: SentimentTokenizer): number => {
    const started = performance.now();
    let tokens = 0;
    for (const text of task.texts) tokens += tokenizer.encode(text).ids.length;
    if (tokens === 0) throw new Error('the tokenizer returned no ids');
    return (performance.now() - started) / 1000;
  };
  const cold = tokenizers.map(pass);
  const warm: number[][] = tokenizers.map(() => []);
  for (let round = 0; round < task.warmPasses; round++) {
    // Alternating, so a disturbed moment weighs on both ways alike.
    const order = round % 2 === 0 ? [0, 1] : [1, 0];
    for (const i of order) warm[i].push(pass(tokenizers[i]));
  }
  return WAYS.map((way, i) => {
    const seconds = percentile(
      [...warm[i]].sort((a, b) => a - b),
      50,
    );
    return {
      id: `tokenizer-${way.key}:fp32`,
      scenario: 'tokenizer',
      variant: 'fp32',
      label: way.label,
      status: 'ok',
      texts: task.texts.length,
      seconds,
      textsPerSecond: task.texts.length / seconds,
      note: `warm, median of ${task.warmPasses} passes; first pass ${microseconds(cold[i], task.texts.length)} µs a text, warm ${microseconds(seconds, task.texts.length)}`,
      extra: {
        coldTextsPerSecond: task.texts.length / cold[i],
        warmMicrosecondsPerText: (seconds * 1e6) / task.texts.length,
        cachesPieces: tokenizers[i].cachesPieces,
      },
    };
  });
}

const microseconds = (seconds: number, texts: number) => ((seconds * 1e6) / texts).toFixed(1);
