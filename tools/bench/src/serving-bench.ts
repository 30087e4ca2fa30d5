/**
 * `npm run bench:serving`: the serving path against the raw ONNX Runtime ceiling, side by side in one
 * run, on the same TweetEval test tweets and the same model:
 *   1. raw ONNX Runtime, batch of one (the model's own latency) and length-sorted batches;
 *   2. the full path (HTTP -> gateway -> queue -> worker -> answer): idle single requests one at a
 *      time, then batch requests from concurrent clients, then single requests from concurrent clients.
 * Prints a table and writes JSON to bench-results/. Traffic goes to 127.0.0.1 only and is bounded.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import IORedis from 'ioredis';
import * as ort from 'onnxruntime-node';
import { deletePrefix, startGateway, startWorker, stopAll } from '@reputation-monitor/app-harness';
import { SentimentTokenizer } from '@reputation-monitor/tokenizer';

const ROOT = resolve(__dirname, '../../..');
const TWEETS = resolve(ROOT, '../shared/data/tweeteval/sentiment/test_text.txt');

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/synthetic-base' },
    texts: { type: 'string', default: '1200' },
    idle: { type: 'string', default: '60' },
    threads: { type: 'string', default: '2' },
    'batch-size': { type: 'string', default: '64' },
    clients: { type: 'string', default: '4' },
    'redis-url': { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
  },
});

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const summary = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) };
};
const round = (value: number, digits = 1) => Number(value.toFixed(digits));

function ensureModel(modelDir: string): void {
  if (existsSync(join(modelDir, 'config.json'))) return;
  if (!/synthetic-base$/.test(modelDir)) throw new Error(`no model at ${modelDir}`);
  console.log(`generating the base synthetic model into ${modelDir} (about 500 MB, once)`);
  execFileSync(
    join(ROOT, 'node_modules/.bin/tsx'),
    [join(ROOT, 'tools/synthetic-model/src/cli.ts'), '--preset', 'base', '--out', modelDir],
    {
      stdio: 'inherit',
    },
  );
}

async function rawOnnxRuntime(
  tokenizer: SentimentTokenizer,
  modelDir: string,
  encoded: number[][],
  idle: number,
  threads: number,
  batchSize: number,
) {
  const session = await ort.InferenceSession.create(join(modelDir, 'onnx/model.onnx'), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const run = async (rows: number[][]) => {
    const batch = tokenizer.pad(rows);
    const dims = [batch.batchSize, batch.sequenceLength];
    await session.run({
      input_ids: new ort.Tensor('int64', batch.inputIds, dims),
      attention_mask: new ort.Tensor('int64', batch.attentionMask, dims),
    });
    return batch.realTokens + batch.padTokens;
  };
  for (let i = 0; i < 3; i++) await run([encoded[i]]);
  const single: number[] = [];
  for (const row of encoded.slice(0, idle)) {
    const started = performance.now();
    await run([row]);
    single.push(performance.now() - started);
  }
  const sorted = [...encoded].sort((a, b) => a.length - b.length);
  const realTokens = encoded.reduce((sum, row) => sum + row.length, 0);
  let padded = 0;
  const started = performance.now();
  for (let i = 0; i < sorted.length; i += batchSize) padded += await run(sorted.slice(i, i + batchSize));
  const seconds = (performance.now() - started) / 1000;
  await session.release();
  return {
    singleMs: summary(single),
    batch: {
      batchSize,
      textsPerSecond: encoded.length / seconds,
      tokensPerSecond: realTokens / seconds,
      padding: 1 - realTokens / padded,
    },
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are read loosely here
async function post(url: string, body: unknown): Promise<any> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (response.status !== 200)
    throw new Error(`${url} answered ${response.status}: ${await response.text()}`);
  return response.json();
}

/** Runs `tasks` with at most `clients` in flight; returns elapsed seconds and per-task latencies. */
async function drive<T>(tasks: Array<() => Promise<T>>, clients: number) {
  const latencies: number[] = [];
  const results: T[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < tasks.length) {
        const task = tasks[next++];
        const t0 = performance.now();
        results.push(await task());
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000, latencies, results };
}

async function fullPath(
  modelDir: string,
  texts: string[],
  idle: number,
  threads: number,
  batchSize: number,
  clients: number,
) {
  const options = { workspaceRoot: ROOT, redisUrl: args['redis-url'] as string };
  const prefix = `bench-${process.pid}`;
  await startWorker({
    ...options,
    env: { QUEUE_PREFIX: prefix, MODEL_DIR: modelDir, INTRA_OP_THREADS: String(threads) },
  });
  const gateway = await startGateway({
    ...options,
    env: { QUEUE_PREFIX: prefix, SYNC_TIMEOUT_MS: '120000' },
  });
  try {
    const single = `${gateway.url}/v1/sentiment`;
    for (const text of texts.slice(0, 3)) await post(single, { text });
    const idleRun = await drive(
      texts.slice(0, idle).map((text) => () => post(single, { text })),
      1,
    );

    const batches: string[][] = [];
    for (let i = 0; i < texts.length; i += batchSize) batches.push(texts.slice(i, i + batchSize));
    const batchRun = await drive(
      batches.map(
        (items) => () =>
          post(`${gateway.url}/v1/sentiment/batch`, { items: items.map((text) => ({ text })) }),
      ),
      clients,
    );
    const tokens = batchRun.results
      .flatMap((body) => body.results)
      .reduce((sum: number, r: { tokens: number }) => sum + r.tokens, 0);

    const concurrentSingles = texts.slice(0, Math.min(texts.length, 400));
    const singleRun = await drive(
      concurrentSingles.map((text) => () => post(single, { text })),
      32,
    );
    return {
      idleSingleMs: summary(idleRun.latencies),
      batch: {
        batchSize,
        clients,
        textsPerSecond: texts.length / batchRun.seconds,
        tokensPerSecond: tokens / batchRun.seconds,
      },
      concurrentSingle: {
        clients: 32,
        textsPerSecond: concurrentSingles.length / singleRun.seconds,
        latencyMs: summary(singleRun.latencies),
      },
    };
  } finally {
    await stopAll();
    await deleteKeys(options.redisUrl, prefix);
  }
}

/** The benchmark's queue, results and prediction stream are its own: remove them when it is done. */
async function deleteKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new IORedis(redisUrl);
  try {
    await deletePrefix(redis, prefix);
  } finally {
    redis.disconnect();
  }
}

async function main(): Promise<void> {
  const modelDir = resolve(ROOT, args.model as string);
  ensureModel(modelDir);
  const count = Number(args.texts);
  const idle = Number(args.idle);
  const threads = Number(args.threads);
  const batchSize = Number(args['batch-size']);
  const clients = Number(args.clients);
  const texts = readFileSync(TWEETS, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .slice(0, count);
  const tokenizer = await SentimentTokenizer.fromDirectory(modelDir);
  const encoded = texts.map((text) => tokenizer.encode(text).ids);
  const meanTokens = encoded.reduce((sum, row) => sum + row.length, 0) / encoded.length;
  console.log(
    `${texts.length} TweetEval test tweets, ${round(meanTokens)} tokens on average; model ${modelDir}; ${threads} intra-op threads`,
  );

  const raw = await rawOnnxRuntime(tokenizer, modelDir, encoded, idle, threads, 16);
  const served = await fullPath(modelDir, texts, idle, threads, batchSize, clients);

  const rows: Array<[string, string, string]> = [
    [
      'raw ONNX Runtime, batch of one, p50 / p95',
      `${round(raw.singleMs.p50)} / ${round(raw.singleMs.p95)} ms`,
      '',
    ],
    [
      'full path, idle single request, p50 / p95',
      `${round(served.idleSingleMs.p50)} / ${round(served.idleSingleMs.p95)} ms`,
      `+${round(served.idleSingleMs.p50 - raw.singleMs.p50)} ms`,
    ],
    [
      `raw ONNX Runtime, sorted batches of ${raw.batch.batchSize}`,
      `${round(raw.batch.textsPerSecond)} tweets/s, ${Math.round(raw.batch.tokensPerSecond)} tokens/s`,
      `padding ${round(raw.batch.padding * 100)} %`,
    ],
    [
      `full path, batch requests of ${batchSize}, ${clients} clients`,
      `${round(served.batch.textsPerSecond)} tweets/s, ${Math.round(served.batch.tokensPerSecond)} tokens/s`,
      `${round((served.batch.textsPerSecond / raw.batch.textsPerSecond) * 100)} % of raw`,
    ],
    [
      `full path, single requests, ${served.concurrentSingle.clients} clients`,
      `${round(served.concurrentSingle.textsPerSecond)} tweets/s (p50 ${Math.round(served.concurrentSingle.latencyMs.p50)} ms)`,
      `${round((served.concurrentSingle.textsPerSecond / raw.batch.textsPerSecond) * 100)} % of raw`,
    ],
  ];
  const width = Math.max(...rows.map((row) => row[0].length));
  console.log(`\n${'measurement'.padEnd(width)} | result | vs`);
  for (const [name, result, versus] of rows) console.log(`${name.padEnd(width)} | ${result} | ${versus}`);

  const outDir = join(ROOT, 'bench-results');
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `serving-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const machine = {
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    node: process.version,
    onnxruntime: ort.env.versions.common,
  };
  writeFileSync(
    file,
    JSON.stringify({ machine, texts: texts.length, meanTokens, threads, raw, served }, null, 2),
  );
  console.log(`\nwritten to ${file}`);
}

main().catch(async (error: Error) => {
  console.error(error.stack ?? error.message);
  await stopAll();
  process.exit(1);
});
