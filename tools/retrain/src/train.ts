import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { LabelledExample, materializeExamples } from '@reputation-monitor/contracts';
import {
  HubConnection,
  loadGoldenSet,
  openDatasetStore,
  parseSnapshotLocation,
} from '@reputation-monitor/dataset-store';
import { openModelDirectory } from '@reputation-monitor/model-runtime';
import {
  quantizeModelFile,
  readModelFile,
  withHeadWeights,
  writeModelFile,
} from '@reputation-monitor/onnx-graph';
import { HeadFitOptions, fitSoftmaxHead, macroRecall, predictLabels } from './fit/softmax-head';
import { extractFeatures } from './model-scoring';
import { Progress } from './progress';
import { DEFAULT_HOLDOUT_SHARE, DEFAULT_VALIDATION_SHARE, labelIndices, splitDataset } from './split';

/** What a retrain is told; the CLI fills it from flags. */
export interface RetrainOptions {
  /** The champion: a model directory in the export layout. */
  baseDir: string;
  /** `hf://datasets/<owner>/<name>@<revision>` or `<dir>@<revision>` (the latest snapshot without `@`). */
  dataset: string;
  outDir: string;
  hub: HubConnection;
  seed: number;
  holdoutShare?: number;
  validationShare?: number;
  fit: Omit<HeadFitOptions, 'seed'>;
  /** Golden-set texts are never trained on (JSONL or texts,labels). */
  golden?: string;
  /** Also write onnx/model_quantized.onnx (default true). */
  int8?: boolean;
  intraOpThreads?: number;
  log?: (line: string) => void;
}

/** The method, named in provenance and model cards. */
export const RETRAIN_METHOD =
  'out_proj re-fit: class-weighted multinomial logistic regression with L2 on the frozen encoder features ' +
  '(the tanh-pooled <s> state that feeds the head), warm-started from the parent, early-stopped on validation macro recall';

/** The record a candidate carries in config.json (`retrain`), and the gate and model card read. */
export interface RetrainProvenance {
  method: string;
  createdAt: string;
  parent: { name: string; version: string; revision: string | null; dir: string };
  dataset: {
    location: string;
    revision: string;
    manifestSha256: string;
    records: number;
    examples: number;
    duplicates: number;
    conflicts: number;
    train: number;
    validation: number;
    holdout: number;
    holdoutShare: number;
    holdoutFrom: string | null;
    holdoutDigest: string;
    excludedGolden: number;
    /** sha256 of the golden set's texts (sorted, one per line) the trainer left out; null without --golden. */
    goldenSha256: string | null;
  };
  seed: number;
  hyperParameters: Omit<HeadFitOptions, 'seed'> & { validationShare: number };
  head: { featureName: string; featureSize: number; weightInitializer: string; biasInitializer: string };
  training: { epochsRun: number; bestEpoch: number; classWeights: number[] };
  metrics: {
    trainMacroRecall: { parent: number; candidate: number };
    validationMacroRecall: { parent: number; candidate: number };
  };
}

export class RetrainError extends Error {
  override readonly name = 'RetrainError';
}

/**
 * Dataset snapshot in, model directory out: reads the snapshot, splits it (newest share held out for the
 * gate), extracts the parent's encoder features, re-fits the head's last layer, and writes a complete model
 * directory the worker serves unchanged (fp32 and int8 graphs, config.json with provenance, tokenizer
 * files). This seam (snapshot in, directory out) is where a full fine-tune on a GPU runner could replace
 * the head re-fit: it would take the same flags and write the same layout and provenance.
 */
export async function retrain(
  options: RetrainOptions,
): Promise<{ outDir: string; provenance: RetrainProvenance }> {
  const log = options.log ?? ((line: string) => process.stderr.write(`[retrain] ${line}\n`));
  const baseDir = resolve(options.baseDir);
  const outDir = resolve(options.outDir);
  await refuseNonEmpty(outDir);
  const base = await openModelDirectory(baseDir, 'fp32');

  const location = parseSnapshotLocation(options.dataset);
  const store = openDatasetStore(location.store, options.hub);
  const snapshot = await store.read(location.revision);
  const { examples, duplicates, conflicts } = materializeExamples(snapshot.records);
  log(
    `snapshot ${snapshot.ref.location}: ${snapshot.records.length} records, ${examples.length} distinct texts ` +
      `(${duplicates} repeats, ${conflicts} relabels; latest label kept)`,
  );
  const goldenTexts = options.golden
    ? new Set(loadGoldenSet(options.golden, Infinity).map((item) => item.text))
    : undefined;
  const holdoutShare = options.holdoutShare ?? DEFAULT_HOLDOUT_SHARE;
  const validationShare = options.validationShare ?? DEFAULT_VALIDATION_SHARE;
  let split;
  try {
    split = splitDataset(examples, { holdoutShare, validationShare, seed: options.seed, goldenTexts });
  } catch (error) {
    throw new RetrainError((error as Error).message);
  }
  log(
    `split: ${split.train.length} train, ${split.validation.length} validation, ${split.holdout.length} held out ` +
      `for the gate (newest ${Math.round(holdoutShare * 100)} %)` +
      (split.excludedGolden > 0 ? `, ${split.excludedGolden} golden-set texts left out` : ''),
  );

  const texts = [...split.train, ...split.validation].map((example: LabelledExample) => example.text);
  const extracted = await extractFeatures(baseDir, texts, {
    label: 'features',
    intraOpThreads: options.intraOpThreads,
  });
  const { head } = extracted;
  const dims = head.featureSize;
  const trainRows = split.train.length;
  const trainFeatures = extracted.features.subarray(0, trainRows * dims);
  const validationFeatures = extracted.features.subarray(trainRows * dims);
  const trainLabels = labelIndices(split.train);
  const validationLabels = labelIndices(split.validation);

  const progress = new Progress('training', options.fit.maxEpochs, 'epochs');
  let fit;
  try {
    fit = await fitSoftmaxHead(
      {
        train: { features: trainFeatures, labels: trainLabels },
        validation: { features: validationFeatures, labels: validationLabels },
        dims,
        init: { weight: head.weight, bias: head.bias },
        onEpoch: ({ epoch, loss, validationMacroRecall }) =>
          progress.update(
            epoch,
            `loss ${loss.toFixed(4)} | val macro recall ${validationMacroRecall.toFixed(3)}`,
          ),
      },
      { ...options.fit, seed: options.seed },
    );
  } finally {
    progress.stop();
  }
  const recall = (features: Float32Array, labels: Int32Array, weight: Float32Array, bias: Float32Array) =>
    macroRecall(labels, predictLabels(features, dims, weight, bias));
  const metrics: RetrainProvenance['metrics'] = {
    trainMacroRecall: {
      parent: recall(trainFeatures, trainLabels, head.weight, head.bias),
      candidate: recall(trainFeatures, trainLabels, fit.weight, fit.bias),
    },
    validationMacroRecall: {
      parent: recall(validationFeatures, validationLabels, head.weight, head.bias),
      candidate: recall(validationFeatures, validationLabels, fit.weight, fit.bias),
    },
  };
  log(
    `fit: ${fit.epochsRun} epochs (best ${fit.bestEpoch}); validation macro recall ` +
      `${metrics.validationMacroRecall.parent.toFixed(3)} -> ${metrics.validationMacroRecall.candidate.toFixed(3)}`,
  );

  const baseConfig = base.config;
  const provenance: RetrainProvenance = {
    method: RETRAIN_METHOD,
    createdAt: new Date().toISOString(),
    parent: {
      name: String(baseConfig._name_or_path ?? basename(baseDir)),
      version: `fp32-${(await fileSha256(base.modelPath)).slice(0, 12)}`,
      revision: await pulledRevision(baseDir),
      dir: baseDir,
    },
    dataset: {
      location: snapshot.ref.location,
      revision: snapshot.ref.revision,
      manifestSha256: snapshot.ref.manifestSha256,
      records: snapshot.records.length,
      examples: examples.length,
      duplicates,
      conflicts,
      train: split.train.length,
      validation: split.validation.length,
      holdout: split.holdout.length,
      holdoutShare,
      holdoutFrom: split.holdoutFrom === null ? null : new Date(split.holdoutFrom).toISOString(),
      holdoutDigest: split.holdoutDigest,
      excludedGolden: split.excludedGolden,
      goldenSha256: goldenTexts ? goldenDigest(goldenTexts) : null,
    },
    seed: options.seed,
    hyperParameters: { ...options.fit, validationShare },
    head: {
      featureName: head.featureName,
      featureSize: head.featureSize,
      weightInitializer: head.weightInitializer,
      biasInitializer: head.biasInitializer,
    },
    training: { epochsRun: fit.epochsRun, bestEpoch: fit.bestEpoch, classWeights: fit.classWeights },
    metrics,
  };

  // Built beside the target and renamed into place, so a failed run never leaves half a model directory.
  const staging = `${outDir}.partial-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(join(staging, 'onnx'), { recursive: true });
  try {
    const graph = withHeadWeights(await readModelFile(base.modelPath), head, {
      weight: fit.weight,
      bias: fit.bias,
    });
    const fp32 = join(staging, 'onnx', 'model.onnx');
    await writeModelFile(fp32, graph);
    if (options.int8 ?? true) await quantizeModelFile(fp32, join(staging, 'onnx', 'model_quantized.onnx'));
    await copyCompanionFiles(baseDir, staging);
    const config = { ...baseConfig, retrain: provenance };
    await writeFile(join(staging, 'config.json'), JSON.stringify(config, null, 2) + '\n');
    await rm(outDir, { recursive: true, force: true });
    await rename(staging, outDir);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  log(`candidate written to ${outDir}`);
  return { outDir, provenance };
}

/** Tokenizer and other files the worker reads beside the graphs; ONNX files and pull records are not copied. */
async function copyCompanionFiles(from: string, to: string): Promise<void> {
  for (const entry of await readdir(from, { withFileTypes: true })) {
    if (
      !entry.isFile() ||
      entry.name === 'config.json' ||
      entry.name.startsWith('.') ||
      entry.name.endsWith('.onnx')
    )
      continue;
    if (entry.name === 'README.md' || entry.name === 'gate-report.json') continue;
    await copyFile(join(from, entry.name), join(to, entry.name));
  }
}

async function refuseNonEmpty(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  if (!(await stat(dir)).isDirectory()) throw new RetrainError(`--out ${dir} exists and is not a directory`);
  if ((await readdir(dir)).length > 0)
    throw new RetrainError(
      `--out ${dir} is not empty; choose a new directory (a candidate is never written over another)`,
    );
}

/** The Hub commit a pulled model came from (model-pull records it), or null for a local one. */
async function pulledRevision(dir: string): Promise<string | null> {
  try {
    const manifest = JSON.parse(await readFile(join(dir, '.model-pull.json'), 'utf8')) as {
      revision?: unknown;
    };
    return typeof manifest.revision === 'string' ? manifest.revision : null;
  } catch {
    return null;
  }
}

/** Names a golden set by its texts, whatever file layout or order they came in. */
export function goldenDigest(texts: Iterable<string>): string {
  return createHash('sha256')
    .update([...new Set(texts)].sort().join('\n'))
    .digest('hex');
}

export function fileSha256(path: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolvePromise(hash.digest('hex')));
  });
}
