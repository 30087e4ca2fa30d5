/**
 * `npm run bench:agreement`: fp32 against int8 (onnx/model.onnx against onnx/model_quantized.onnx) on the
 * TweetEval sentiment test tweets, tokenized with the real RoBERTa tokenizer:
 *   - how often the two agree on the label (argmax), and the largest and mean absolute logit difference;
 *   - the raw ONNX Runtime speed of each on length-sorted batches (no queue, no HTTP).
 * The two run one after the other, never side by side. Prints a table and writes JSON to bench-results/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { SentimentTokenizer } from '@reputation-monitor/tokenizer';

const ROOT = resolve(__dirname, '../../..');
const TWEETEVAL = resolve(ROOT, '../shared/data/tweeteval/sentiment');
const LABELS = 3;
const USAGE =
  'Usage: npm run bench:agreement -- [--model DIR] [--int8 FILE] [--texts N|all] [--batch-size 32] ' +
  '[--threads 2] [--tokenizer DIR]';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/synthetic-base' },
    /** The int8 graph, relative to the model directory; another file allows comparing quantizer settings. */
    int8: { type: 'string', default: 'onnx/model_quantized.onnx' },
    texts: { type: 'string', default: 'all' },
    'batch-size': { type: 'string', default: '32' },
    threads: { type: 'string', default: '2' },
    tokenizer: { type: 'string', default: resolve(ROOT, '../shared/data/roberta-tokenizer') },
    help: { type: 'boolean', default: false },
  },
});

const round = (value: number, digits = 1) => Number(value.toFixed(digits));
const argmax = (logits: Float32Array, row: number) => {
  let best = 0;
  for (let label = 1; label < LABELS; label++) {
    if (logits[row * LABELS + label] > logits[row * LABELS + best]) best = label;
  }
  return best;
};
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor(sorted.length / 2)];
};

/** Generates the base synthetic model (with its int8 graph) or quantizes an existing fp32 one, when missing. */
function ensureModels(modelDir: string, int8Path: string): void {
  const tsx = join(ROOT, 'node_modules/.bin/tsx');
  if (!existsSync(join(modelDir, 'config.json'))) {
    if (!/synthetic-base$/.test(modelDir)) throw new Error(`no model at ${modelDir}`);
    console.log(`generating the base synthetic model into ${modelDir} (about 750 MB with int8, once)`);
    const cli = join(ROOT, 'tools/synthetic-model/src/cli.ts');
    execFileSync(tsx, [cli, '--preset', 'base', '--int8', '--out', modelDir], { stdio: 'inherit' });
  }
  if (!existsSync(int8Path)) {
    console.log(`quantizing ${modelDir} (${int8Path} is missing)`);
    const cli = join(ROOT, 'tools/synthetic-model/src/quantize-cli.ts');
    execFileSync(tsx, [cli, modelDir], { stdio: 'inherit' });
  }
}

interface VariantRun {
  /** [texts, 3] in the original text order. */
  logits: Float32Array;
  seconds: number;
  textsPerSecond: number;
  tokensPerSecond: number;
}

/** Runs every batch once untimed (so no shape meets the session for the first time while timed), then timed. */
async function runVariant(
  modelPath: string,
  tokenizer: SentimentTokenizer,
  encoded: number[][],
  batches: number[][],
  threads: number,
): Promise<VariantRun> {
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const logits = new Float32Array(encoded.length * LABELS);
  const run = async (batch: number[]) => {
    const padded = tokenizer.pad(batch.map((index) => encoded[index]));
    const dims = [padded.batchSize, padded.sequenceLength];
    const result = await session.run({
      input_ids: new ort.Tensor('int64', padded.inputIds, dims),
      attention_mask: new ort.Tensor('int64', padded.attentionMask, dims),
    });
    const output = result[session.outputNames[0]].data as Float32Array;
    batch.forEach((index, row) =>
      logits.set(output.subarray(row * LABELS, (row + 1) * LABELS), index * LABELS),
    );
  };
  try {
    // Warm-up on the shortest and the longest batch: allocations and kernel selection, not measured.
    await run(batches[0]);
    await run(batches[batches.length - 1]);
    const started = performance.now();
    for (const batch of batches) await run(batch);
    const seconds = (performance.now() - started) / 1000;
    const tokens = encoded.reduce((sum, ids) => sum + ids.length, 0);
    return { logits, seconds, textsPerSecond: encoded.length / seconds, tokensPerSecond: tokens / seconds };
  } finally {
    await session.release();
  }
}

/** TweetEval's metric: recall averaged over the three classes. */
function macroRecall(predicted: number[], gold: number[]): number {
  let total = 0;
  for (let label = 0; label < LABELS; label++) {
    const ofLabel = gold.map((value, index) => [value, index]).filter(([value]) => value === label);
    total += ofLabel.filter(([, index]) => predicted[index] === label).length / Math.max(1, ofLabel.length);
  }
  return total / LABELS;
}

async function main(): Promise<void> {
  if (args.help) {
    console.log(USAGE);
    return;
  }
  const modelDir = resolve(ROOT, args.model as string);
  const fp32Path = join(modelDir, 'onnx/model.onnx');
  const int8Path = resolve(modelDir, args.int8 as string);
  const batchSize = Number(args['batch-size']);
  const threads = Number(args.threads);
  if (!(batchSize >= 1) || !(threads >= 1))
    throw new Error(`--batch-size and --threads must be positive\n${USAGE}`);
  ensureModels(modelDir, int8Path);

  const lines = readFileSync(join(TWEETEVAL, 'test_text.txt'), 'utf8').split('\n');
  const goldLines = readFileSync(join(TWEETEVAL, 'test_labels.txt'), 'utf8').split('\n');
  const count = args.texts === 'all' ? lines.length : Number(args.texts);
  const texts: string[] = [];
  const gold: number[] = [];
  lines.slice(0, count).forEach((line, index) => {
    if (!line.trim()) return;
    texts.push(line);
    gold.push(Number(goldLines[index]));
  });

  const tokenizer = await SentimentTokenizer.fromDirectory(args.tokenizer as string);
  const encoded = texts.map((text) => tokenizer.encode(text).ids);
  // Length-sorted batches, as the worker's batcher forms them; ties keep text order.
  const order = encoded
    .map((_, index) => index)
    .sort((a, b) => encoded[a].length - encoded[b].length || a - b);
  const batches: number[][] = [];
  for (let start = 0; start < order.length; start += batchSize)
    batches.push(order.slice(start, start + batchSize));
  const realTokens = encoded.reduce((sum, ids) => sum + ids.length, 0);
  const paddedTokens = batches.reduce(
    (sum, batch) => sum + batch.length * Math.max(...batch.map((index) => encoded[index].length)),
    0,
  );
  const meanTokens = realTokens / encoded.length;
  console.log(
    `${texts.length} TweetEval sentiment test tweets, ${round(meanTokens)} tokens on average, sorted batches ` +
      `of ${batchSize} (padding ${round((1 - realTokens / paddedTokens) * 100)} %), ${threads} intra-op threads\n` +
      `fp32 ${fp32Path}\nint8 ${int8Path}`,
  );

  const fp32 = await runVariant(fp32Path, tokenizer, encoded, batches, threads);
  const int8 = await runVariant(int8Path, tokenizer, encoded, batches, threads);

  let agreeing = 0;
  let maxError = 0;
  let errorSum = 0;
  const fp32Labels: number[] = [];
  const int8Labels: number[] = [];
  const margins: number[] = [];
  const disagreementMargins: number[] = [];
  for (let row = 0; row < texts.length; row++) {
    const expected = argmax(fp32.logits, row);
    const actual = argmax(int8.logits, row);
    fp32Labels.push(expected);
    int8Labels.push(actual);
    const rowLogits = Array.from(fp32.logits.subarray(row * LABELS, (row + 1) * LABELS)).sort(
      (a, b) => b - a,
    );
    margins.push(rowLogits[0] - rowLogits[1]);
    if (expected === actual) agreeing++;
    else disagreementMargins.push(rowLogits[0] - rowLogits[1]);
    for (let label = 0; label < LABELS; label++) {
      const error = Math.abs(fp32.logits[row * LABELS + label] - int8.logits[row * LABELS + label]);
      maxError = Math.max(maxError, error);
      errorSum += error;
    }
  }
  const labelMix = (labels: number[]) =>
    [0, 1, 2].map((label) => round((labels.filter((value) => value === label).length / labels.length) * 100));
  const results = {
    agreement: agreeing / texts.length,
    disagreements: texts.length - agreeing,
    maxAbsLogitError: maxError,
    meanAbsLogitError: errorSum / (texts.length * LABELS),
    fp32LabelMixPercent: labelMix(fp32Labels),
    int8LabelMixPercent: labelMix(int8Labels),
    medianFp32Margin: median(margins),
    medianFp32MarginOfDisagreements: median(disagreementMargins),
    fp32MacroRecall: macroRecall(fp32Labels, gold),
    int8MacroRecall: macroRecall(int8Labels, gold),
  };
  const speed = (run: VariantRun) => ({
    seconds: run.seconds,
    textsPerSecond: run.textsPerSecond,
    tokensPerSecond: run.tokensPerSecond,
  });

  const rows: Array<[string, string]> = [
    [
      'argmax agreement',
      `${round(results.agreement * 100, 2)} % (${results.disagreements} of ${texts.length} differ)`,
    ],
    ['|logit difference|, max / mean', `${round(maxError, 3)} / ${round(results.meanAbsLogitError, 4)}`],
    [
      'fp32 logit margin (top 1 - top 2), median: all / where they differ',
      `${round(results.medianFp32Margin, 2)} / ${round(results.medianFp32MarginOfDisagreements, 2)}`,
    ],
    [
      'labels neg / neu / pos %, fp32 | int8',
      `${results.fp32LabelMixPercent.join(' / ')} | ${results.int8LabelMixPercent.join(' / ')}`,
    ],
    [
      'macro recall vs TweetEval labels, fp32 | int8',
      `${round(results.fp32MacroRecall, 4)} | ${round(results.int8MacroRecall, 4)}`,
    ],
    [
      `fp32, sorted batches of ${batchSize}`,
      `${round(fp32.textsPerSecond)} tweets/s, ${Math.round(fp32.tokensPerSecond)} tokens/s`,
    ],
    [
      `int8, sorted batches of ${batchSize}`,
      `${round(int8.textsPerSecond)} tweets/s, ${Math.round(int8.tokensPerSecond)} tokens/s (${round(int8.textsPerSecond / fp32.textsPerSecond, 2)}x fp32)`,
    ],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  console.log('');
  for (const [name, value] of rows) console.log(`${name.padEnd(width)} | ${value}`);

  const outDir = join(ROOT, 'bench-results');
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `agreement-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const machine = {
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    node: process.version,
    onnxruntime: ort.env.versions.common,
  };
  writeFileSync(
    file,
    JSON.stringify(
      {
        machine,
        model: { fp32: fp32Path, int8: int8Path },
        texts: texts.length,
        meanTokens,
        batchSize,
        threads,
        padding: 1 - realTokens / paddedTokens,
        results,
        fp32: speed(fp32),
        int8: speed(int8),
      },
      null,
      2,
    ),
  );
  console.log(`\nwritten to ${file}`);
}

main().catch((error: Error) => {
  console.error(error.stack ?? error.message);
  process.exit(1);
});
