/**
 * Re-fits the output projection (`out_proj`) of the sentiment classifier on frozen encoder features:
 * multinomial logistic regression, features [n, dims] → logits [n, 3], with TensorFlow.js (cpu backend).
 *
 * Objective minimised (full batch; a mini-batch step uses the same formula on its batch):
 *
 *   J(W, b) = (1/n) Σ_i w_{y_i} · CE(softmax(x_i·W + b), y_i) + l2 · ‖W‖²
 *
 * with w_c the class weights and the bias unpenalised. That is what tfjs-layers builds from
 * `classWeight` (loss × per-sample weight, then the batch mean) and `kernelRegularizer: l2`.
 *
 * After every epoch the same J and the macro recall (the quality gate's metric) are measured on the
 * validation set. The best epoch has the highest validation macro recall, ties to the lower validation
 * J; training stops after `patience` epochs without a better one, and the best epoch's weights are
 * returned. The initial (warm-start) weights are not a candidate: compare with the deployed head in
 * the gate.
 */
import * as tf from '@tensorflow/tfjs';
import { qualityFromConfusion } from '@reputation-monitor/drift-stats';

/** negative, neutral, positive: the label indices of the sentiment schema. */
export const HEAD_CLASSES = 3;

export interface HeadFitOptions {
  /** L2 strength on the weight (not the bias): adds l2·‖W‖² to the objective. ≥ 0. */
  l2: number;
  /** Adam's learning rate. > 0. */
  learningRate: number;
  /** Upper bound on passes over the training set. Integer ≥ 1. */
  maxEpochs: number;
  /** Stop after this many consecutive epochs without a better validation result. Integer ≥ 1. */
  patience: number;
  /** Rows per gradient step; default (and any value ≥ n) is the full batch. */
  batchSize?: number;
  /** Seeds the initialisation (when there is no warm start) and the row order of mini-batches. */
  seed: number;
  /**
   * Per-class loss weights. 'balanced' is scikit-learn's n / (k · n_c) over the k classes present in
   * the training set (n / (3 · n_c) when all three occur), which targets macro recall; 'none' is 1 each.
   */
  classWeights: 'balanced' | 'none' | readonly number[];
}

export interface LabelledFeatures {
  /** Row-major [n, dims]. */
  features: Float32Array;
  /** n labels: 0 negative, 1 neutral, 2 positive. */
  labels: Int32Array;
}

export interface HeadFitProgress {
  /** 1-based: the number of passes over the training set done. */
  epoch: number;
  /**
   * J on the training set as tfjs reports it: averaged over the epoch's batches (by size), each
   * taken at the weights before its step.
   */
  loss: number;
  /** J on the validation set at the end of the epoch (class-weighted cross-entropy + l2·‖W‖²). */
  validationLoss: number;
  /** Macro recall over the three classes on the validation set at the end of the epoch. */
  validationMacroRecall: number;
}

export interface HeadFitInput {
  train: LabelledFeatures;
  validation: LabelledFeatures;
  dims: number;
  /** Warm start: weight [dims, 3] row-major ([in, out]), bias [3]. */
  init?: { weight: Float32Array; bias: Float32Array };
  onEpoch?: (progress: HeadFitProgress) => void;
}

export interface HeadFitResult {
  /** [dims, 3] row-major ([in, out]) and [3]: the weights at the end of `bestEpoch`. */
  weight: Float32Array;
  bias: Float32Array;
  epochsRun: number;
  /** The epoch with the highest validation macro recall, ties to the lower validation loss. */
  bestEpoch: number;
  /** The class weights used, by label index. */
  classWeights: number[];
  history: HeadFitProgress[];
}

export class HeadFitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HeadFitError';
  }
}

/**
 * argmax over classes of x·W + b for every row (first index on ties, as tf.argMax). Plain TS so that
 * evaluating a head needs no tfjs backend; it sums in float64, so on a near-tie (logits within float32
 * rounding) it may pick another class than the float32 tfjs forward pass.
 */
export function predictLabels(
  features: Float32Array,
  dims: number,
  weight: Float32Array,
  bias: Float32Array,
): Int32Array {
  if (!Number.isInteger(dims) || dims < 1) throw new RangeError(`dims must be an integer ≥ 1, got ${dims}`);
  if (features.length % dims !== 0) {
    throw new RangeError(`features length ${features.length} is not a multiple of dims ${dims}`);
  }
  if (weight.length !== dims * HEAD_CLASSES || bias.length !== HEAD_CLASSES) {
    throw new RangeError(`weight must be [${dims}, ${HEAD_CLASSES}] and bias [${HEAD_CLASSES}]`);
  }
  const n = features.length / dims;
  const predicted = new Int32Array(n);
  const logits = new Float64Array(HEAD_CLASSES);
  for (let i = 0; i < n; i += 1) {
    logits.set(bias);
    const row = i * dims;
    for (let j = 0; j < dims; j += 1) {
      const x = features[row + j];
      const w = j * HEAD_CLASSES;
      for (let c = 0; c < HEAD_CLASSES; c += 1) logits[c] += x * weight[w + c];
    }
    let best = 0;
    for (let c = 1; c < HEAD_CLASSES; c += 1) if (logits[c] > logits[best]) best = c;
    predicted[i] = best;
  }
  return predicted;
}

/** Macro recall over the three classes, as the quality gate computes it (drift-stats' definition). */
export function macroRecall(truth: ArrayLike<number>, predicted: ArrayLike<number>): number {
  if (truth.length !== predicted.length) {
    throw new RangeError(`label lists differ in length (${truth.length} vs ${predicted.length})`);
  }
  const confusion = Array.from({ length: HEAD_CLASSES }, () => new Array<number>(HEAD_CLASSES).fill(0));
  for (let i = 0; i < truth.length; i += 1) {
    const [t, p] = [truth[i], predicted[i]];
    if (!(
      Number.isInteger(t) &&
      Number.isInteger(p) &&
      t >= 0 &&
      p >= 0 &&
      t < HEAD_CLASSES &&
      p < HEAD_CLASSES
    )) {
      throw new RangeError(`labels at ${i} are not class indices 0..${HEAD_CLASSES - 1}: ${t}, ${p}`);
    }
    confusion[t][p] += 1;
  }
  return qualityFromConfusion(confusion).macroRecall;
}

export async function fitSoftmaxHead(input: HeadFitInput, options: HeadFitOptions): Promise<HeadFitResult> {
  checkOptions(options);
  const dims = input.dims;
  if (!Number.isInteger(dims) || dims < 1) throw new HeadFitError(`dims must be an integer ≥ 1, got ${dims}`);
  const n = checkSet('train', input.train, dims);
  checkSet('validation', input.validation, dims);
  const counts = classCounts(input.train.labels);
  if (counts.filter((count) => count > 0).length < 2) {
    throw new HeadFitError(
      `one-class dataset: the training labels take a single value (${counts.findIndex((c) => c > 0)}); ` +
        'a classifier needs at least two classes',
    );
  }
  if (input.init) checkInit(input.init, dims);
  const classWeights = resolveClassWeights(options.classWeights, counts);
  const batchSize = Math.min(options.batchSize ?? n, n);

  await useCpuBackend();

  const optimizer = tf.train.adam(options.learningRate);
  const model = tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [dims],
        units: HEAD_CLASSES,
        activation: 'linear', // logits; the softmax lives in the loss, which is stable on logits
        kernelInitializer: tf.initializers.glorotUniform({ seed: options.seed }),
        biasInitializer: 'zeros',
        kernelRegularizer: options.l2 > 0 ? tf.regularizers.l2({ l2: options.l2 }) : undefined,
      }),
    ],
  });
  const ownTensors: tf.Tensor[] = [];
  const keep = <T extends tf.Tensor>(t: T): T => {
    ownTensors.push(t);
    return t;
  };
  try {
    model.compile({ optimizer, loss: perSampleCrossEntropy });
    if (input.init) {
      const initial = [tf.tensor2d(input.init.weight, [dims, HEAD_CLASSES]), tf.tensor1d(input.init.bias)];
      model.setWeights(initial); // the variables take their own reference
      tf.dispose(initial);
    }

    const batches = trainingBatches(input.train, dims, batchSize, options.seed).map(
      ({ features, labels }) => ({
        xs: keep(tf.tensor2d(features, [labels.length, dims])),
        ys: keep(oneHot(labels)),
      }),
    );
    // model.fit gathers every batch by index (tf.gather, ~70 ns per value on the cpu backend: it
    // dominated an epoch), so the batches are made once and fed through fitDataset; each step gets
    // clones (no copy) because fitDataset disposes the tensors it was given.
    const dataset = tf.data.generator(function* () {
      for (const batch of batches) yield { xs: batch.xs.clone(), ys: batch.ys.clone() };
    });
    const nValidation = input.validation.labels.length;
    const xValidation = keep(tf.tensor2d(input.validation.features, [nValidation, dims]));
    const yValidation = keep(oneHot(input.validation.labels));
    const validationWeights = keep(
      tf.tensor1d(Array.from(input.validation.labels, (label) => classWeights[label])),
    );

    // Early stopping and "restore best" are hand-written in this callback: tf.callbacks.earlyStopping
    // monitors a single scalar with a strict-improvement test, so it cannot express "macro recall,
    // ties to the lower validation loss", and it does not restore the best epoch's weights (tfjs has
    // no restoreBestWeights). The best weights are copied out as they occur and returned at the end.
    const history: HeadFitProgress[] = [];
    let best: { epoch: number; recall: number; loss: number; weights: Float32Array[] } | undefined;
    let sinceBest = 0;
    let diverged = false;
    await model.fitDataset(dataset, {
      epochs: options.maxEpochs,
      classWeight: { 0: classWeights[0], 1: classWeights[1], 2: classWeights[2] },
      verbose: 0,
      callbacks: {
        onEpochEnd: async (epochIndex, logs) => {
          const { validationLoss, predicted } = evaluate(model, xValidation, yValidation, validationWeights);
          const progress: HeadFitProgress = {
            epoch: epochIndex + 1,
            loss: Number(logs?.loss),
            validationLoss,
            validationMacroRecall: macroRecall(input.validation.labels, predicted),
          };
          history.push(progress);
          input.onEpoch?.(progress);
          if (!Number.isFinite(progress.loss) || !Number.isFinite(validationLoss)) {
            diverged = true;
            model.stopTraining = true;
            return;
          }
          const improved =
            best === undefined ||
            progress.validationMacroRecall > best.recall ||
            (progress.validationMacroRecall === best.recall && validationLoss < best.loss);
          if (improved) {
            best = {
              epoch: progress.epoch,
              recall: progress.validationMacroRecall,
              loss: validationLoss,
              weights: model.getWeights().map((w) => w.dataSync().slice() as Float32Array),
            };
            sinceBest = 0;
          } else {
            sinceBest += 1;
            if (sinceBest >= options.patience) model.stopTraining = true;
          }
        },
      },
    });
    if (diverged || best === undefined) {
      throw new HeadFitError(
        `training diverged (non-finite loss at epoch ${history.length}); lower the learning rate`,
      );
    }
    return {
      weight: best.weights[0],
      bias: best.weights[1],
      epochsRun: history.length,
      bestEpoch: best.epoch,
      classWeights,
      history,
    };
  } finally {
    tf.dispose(ownTensors);
    model.dispose();
    optimizer.dispose();
  }
}

/** Per-sample softmax cross-entropy on logits (shape [batch]) so tfjs can apply class weights to it. */
function perSampleCrossEntropy(oneHotLabels: tf.Tensor, logits: tf.Tensor): tf.Tensor {
  return tf.losses.softmaxCrossEntropy(oneHotLabels, logits, undefined, undefined, tf.Reduction.NONE);
}

/**
 * The training rows cut into batches of `batchSize`. Mini-batches take the rows in a seeded random
 * order (tfjs' own `shuffle` draws from the unseeded Math.random, so runs would not repeat); the
 * order is the top-k ranking of seeded uniforms. Rows are copied in plain TS because tf.gather is
 * slow on the cpu backend. The full batch keeps the caller's arrays and order.
 */
function trainingBatches(
  set: LabelledFeatures,
  dims: number,
  batchSize: number,
  seed: number,
): LabelledFeatures[] {
  const n = set.labels.length;
  if (batchSize >= n) return [set];
  const order = tf.tidy(() => tf.topk(tf.randomUniform([n], 0, 1, 'float32', seed), n).indices);
  const rows = order.dataSync();
  order.dispose();
  const batches: LabelledFeatures[] = [];
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const features = new Float32Array(size * dims);
    const labels = new Int32Array(size);
    for (let i = 0; i < size; i += 1) {
      const row = rows[start + i];
      features.set(set.features.subarray(row * dims, (row + 1) * dims), i * dims);
      labels[i] = set.labels[row];
    }
    batches.push({ features, labels });
  }
  return batches;
}

function oneHot(labels: Int32Array): tf.Tensor2D {
  return tf.tidy(
    () => tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), HEAD_CLASSES), 'float32') as tf.Tensor2D,
  );
}

/** The training objective on the validation set, and its predicted labels, at the current weights. */
function evaluate(
  model: tf.Sequential,
  x: tf.Tensor2D,
  y: tf.Tensor2D,
  sampleWeights: tf.Tensor1D,
): { validationLoss: number; predicted: Int32Array } {
  const [loss, predicted] = tf.tidy(() => {
    const logits = model.apply(x) as tf.Tensor2D;
    // Same formula as the training step: mean of weight × cross-entropy, plus the layer's penalty.
    let objective = tf.mean(tf.mul(perSampleCrossEntropy(y, logits), sampleWeights));
    for (const penalty of model.calculateLosses()) objective = tf.add(objective, penalty);
    return [objective, tf.argMax(logits, 1)];
  });
  try {
    return { validationLoss: loss.dataSync()[0], predicted: Int32Array.from(predicted.dataSync()) };
  } finally {
    tf.dispose([loss, predicted]);
  }
}

let bannerSilenced = false;

async function useCpuBackend(): Promise<void> {
  if (!(await tf.setBackend('cpu'))) throw new HeadFitError('the tfjs cpu backend could not be initialised');
  await tf.ready();
  if (bannerSilenced) return;
  bannerSilenced = true;
  // The cpu backend prints its "install tfjs-node" banner on its first tensor write when IS_NODE is
  // set. Make that first write here with IS_NODE off for the moment, then restore the flag: only the
  // banner check reads it in between, so nothing else (and no numerics) changes.
  const env = tf.env();
  const isNode = env.get('IS_NODE');
  env.set('IS_NODE', false);
  try {
    tf.scalar(0).dispose();
  } finally {
    env.set('IS_NODE', isNode);
  }
}

function checkSet(name: string, set: LabelledFeatures, dims: number): number {
  const { features, labels } = set;
  if (!(features instanceof Float32Array)) throw new HeadFitError(`${name}.features must be a Float32Array`);
  if (!(labels instanceof Int32Array)) throw new HeadFitError(`${name}.labels must be an Int32Array`);
  const n = labels.length;
  if (n === 0) throw new HeadFitError(`${name} set is empty`);
  if (features.length !== n * dims) {
    throw new HeadFitError(
      `${name}.features has ${features.length} values, expected n × dims = ${n} × ${dims} = ${n * dims}`,
    );
  }
  for (let i = 0; i < n; i += 1) {
    const label = labels[i];
    if (label < 0 || label >= HEAD_CLASSES) {
      throw new HeadFitError(
        `${name}.labels[${i}] is ${label}, expected 0 (negative), 1 (neutral) or 2 (positive)`,
      );
    }
  }
  for (let i = 0; i < features.length; i += 1) {
    if (!Number.isFinite(features[i])) {
      throw new HeadFitError(
        `${name}.features has a non-finite value (${features[i]}) at row ${Math.floor(i / dims)}, column ${i % dims}`,
      );
    }
  }
  return n;
}

function checkOptions(options: HeadFitOptions): void {
  const { l2, learningRate, maxEpochs, patience, batchSize, seed, classWeights } = options;
  if (!(Number.isFinite(l2) && l2 >= 0)) throw new HeadFitError(`l2 must be a finite number ≥ 0, got ${l2}`);
  if (!(Number.isFinite(learningRate) && learningRate > 0)) {
    throw new HeadFitError(`learningRate must be a finite number > 0, got ${learningRate}`);
  }
  if (!(Number.isSafeInteger(maxEpochs) && maxEpochs >= 1)) {
    throw new HeadFitError(`maxEpochs must be an integer ≥ 1, got ${maxEpochs}`);
  }
  if (!(Number.isSafeInteger(patience) && patience >= 1)) {
    throw new HeadFitError(`patience must be an integer ≥ 1, got ${patience}`);
  }
  if (batchSize !== undefined && !(Number.isSafeInteger(batchSize) && batchSize >= 1)) {
    throw new HeadFitError(`batchSize must be an integer ≥ 1, got ${batchSize}`);
  }
  if (!Number.isSafeInteger(seed)) throw new HeadFitError(`seed must be an integer, got ${seed}`);
  if (classWeights === 'balanced' || classWeights === 'none') return;
  if (
    !Array.isArray(classWeights) ||
    classWeights.length !== HEAD_CLASSES ||
    !classWeights.every((w) => typeof w === 'number' && Number.isFinite(w) && w >= 0)
  ) {
    throw new HeadFitError(
      `classWeights must be 'balanced', 'none' or ${HEAD_CLASSES} finite numbers ≥ 0, got ${JSON.stringify(classWeights)}`,
    );
  }
}

function checkInit(init: NonNullable<HeadFitInput['init']>, dims: number): void {
  if (!(init.weight instanceof Float32Array) || init.weight.length !== dims * HEAD_CLASSES) {
    throw new HeadFitError(`init.weight must be a Float32Array of dims × 3 = ${dims * HEAD_CLASSES} values`);
  }
  if (!(init.bias instanceof Float32Array) || init.bias.length !== HEAD_CLASSES) {
    throw new HeadFitError(`init.bias must be a Float32Array of ${HEAD_CLASSES} values`);
  }
  if (![...init.weight, ...init.bias].every(Number.isFinite)) {
    throw new HeadFitError('init has a non-finite value');
  }
}

function classCounts(labels: Int32Array): number[] {
  const counts = new Array<number>(HEAD_CLASSES).fill(0);
  for (const label of labels) counts[label] += 1;
  return counts;
}

function resolveClassWeights(spec: HeadFitOptions['classWeights'], counts: number[]): number[] {
  if (spec === 'none') return counts.map(() => 1);
  if (spec !== 'balanced') {
    if (!counts.some((count, c) => count > 0 && spec[c] > 0)) {
      throw new HeadFitError('classWeights give every class present in the training set a weight of 0');
    }
    return [...spec];
  }
  const n = counts.reduce((a, b) => a + b, 0);
  const present = counts.filter((count) => count > 0).length;
  // A class absent from the training set weighs no training sample; 1 keeps it in the validation loss.
  return counts.map((count) => (count > 0 ? n / (present * count) : 1));
}
