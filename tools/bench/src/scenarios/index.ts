/** Scenario key -> what runs it. Keys and order are those of SCENARIOS in options.ts. */
import { join } from 'node:path';
import { runInChild } from '../in-process';
import { workerLanes } from '../packing-bound';
import type { Variant } from '../results';
import { ScenarioContext, ScenarioRunner, slowTexts, throughputTexts } from './context';
import { cache, fullBatch, fullSingle, idle, overload, sparse } from './full-path';
import { producerBatch, producerSingle } from './producer';
import { thenRawAgain } from './raw-again';
import { shadow } from './shadow';
import { tracing } from './tracing';

const model = (context: ScenarioContext) => ({
  modelDir: context.options.modelDir,
  threads: context.options.threads,
  cpus: context.pinning?.model,
});

/** The raw ceiling: length-sorted batches on one session and on the worker's lanes. */
const rawTask = (context: ScenarioContext, variant: Variant) =>
  ({
    kind: 'raw',
    ...model(context),
    variant,
    texts: throughputTexts(context),
    batchSizes: context.options.rawBatchSizes,
    workerSettings: { lanes: workerLanes(context.options.workerEnv) },
  }) as const;

export const RUNNERS: Record<string, ScenarioRunner> = {
  raw: (context, variant) => runInChild(rawTask(context, variant)),
  cost: (context, variant) =>
    runInChild({
      kind: 'cost',
      ...model(context),
      variant,
      batchSizes: [1, 2, 4, 8, 16, 32, 64],
      widths: [16, 32, 64],
      maxTokens: 2048,
      repeats: context.options.quick ? 2 : 3,
      lanes: workerLanes(context.options.workerEnv),
    }),
  // int8 only: the directory's fp32 graph quantized both ways, compared batch by batch.
  weights: (context) =>
    runInChild({
      kind: 'weights',
      ...model(context),
      texts: throughputTexts(context),
      batchSize: Math.max(...context.options.rawBatchSizes),
      cacheDir: join(context.root, 'tmp/bench/int8-weights'),
    }),
  // Every test tweet: the first pass is the one whose words are new to the caches.
  tokenizer: (context) =>
    runInChild({
      kind: 'tokenizer',
      modelDir: context.options.modelDir,
      texts: context.tweets,
      warmPasses: 5,
      cpus: context.pinning?.model,
    }),
  seed: (context, variant) =>
    runInChild({
      kind: 'batch-of-one',
      ...model(context),
      variant,
      texts: slowTexts(context),
      id: `seed:${variant}`,
      scenario: 'seed',
      label: "seed's way: one ONNX Runtime run per text (batch of one)",
    }),
  peer: (context, variant) =>
    runInChild({
      kind: 'peer',
      ...model(context),
      variant,
      singleTexts: slowTexts(context),
      batchTexts: throughputTexts(context),
      batchSize: context.options.peerBatchSize,
    }),
  idle,
  sparse,
  'full-batch': thenRawAgain(fullBatch, (context, variant, size) =>
    runInChild({ ...rawTask(context, variant), batchSizes: [size], again: true }),
  ),
  'full-single': fullSingle,
  'producer-batch': producerBatch,
  'producer-single': producerSingle,
  overload,
  cache,
  shadow,
  tracing,
};

export type { ScenarioContext } from './context';
