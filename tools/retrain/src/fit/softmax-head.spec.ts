import * as tf from '@tensorflow/tfjs';
import {
  HEAD_CLASSES,
  HeadFitError,
  HeadFitInput,
  HeadFitOptions,
  LabelledFeatures,
  fitSoftmaxHead,
  macroRecall,
  predictLabels,
} from './softmax-head';

const K = HEAD_CLASSES;

// ---------------------------------------------------------------------------------------------
// Seeded data: three Gaussian clusters squashed by tanh, like the pooled post-tanh <s> state.
// ---------------------------------------------------------------------------------------------

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Class c is centred at `separation` on axis c (and 0 elsewhere), with N(0, noise²) per axis. */
function clusters(
  perClass: readonly number[],
  dims: number,
  separation: number,
  noise: number,
  seed: number,
): LabelledFeatures {
  const random = mulberry32(seed);
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const n = perClass.reduce((a, b) => a + b, 0);
  const features = new Float32Array(n * dims);
  const labels = new Int32Array(n);
  // Interleave the classes so that a prefix of the set is not one class.
  const remaining = [...perClass];
  for (let i = 0; i < n; i += 1) {
    let c = i % K;
    while (remaining[c] === 0) c = (c + 1) % K;
    remaining[c] -= 1;
    labels[i] = c;
    for (let j = 0; j < dims; j += 1) {
      features[i * dims + j] = Math.tanh((j === c ? separation : 0) + noise * gaussian());
    }
  }
  return { features, labels };
}

function relabel(set: LabelledFeatures, map: (label: number) => number): LabelledFeatures {
  return { features: set.features, labels: Int32Array.from(set.labels, map) };
}

// ---------------------------------------------------------------------------------------------
// The objective in plain JS (float64): J = (1/n) Σ w_y · CE + l2 · ‖W‖², its gradient and Hessian.
// Parameters θ[j][c] over the augmented input (x, 1): j < dims is the weight, j = dims the bias.
// ---------------------------------------------------------------------------------------------

interface Objective {
  value: number;
  /** ∂J/∂W as [dims, 3] row-major, then ∂J/∂b. */
  gradWeight: Float64Array;
  gradBias: Float64Array;
  /** Over θ flattened as (j · 3 + c), j = dims for the bias: ((dims + 1) · 3)². */
  hessian: Float64Array;
}

function objective(
  set: LabelledFeatures,
  dims: number,
  weight: ArrayLike<number>,
  bias: ArrayLike<number>,
  classWeights: readonly number[],
  l2: number,
): Objective {
  const n = set.labels.length;
  const p = (dims + 1) * K;
  const gradWeight = new Float64Array(dims * K);
  const gradBias = new Float64Array(K);
  const hessian = new Float64Array(p * p);
  const x = new Float64Array(dims + 1);
  const prob = new Float64Array(K);
  let value = 0;
  for (let i = 0; i < n; i += 1) {
    for (let j = 0; j < dims; j += 1) x[j] = set.features[i * dims + j];
    x[dims] = 1;
    let max = -Infinity;
    for (let c = 0; c < K; c += 1) {
      let z = bias[c];
      for (let j = 0; j < dims; j += 1) z += x[j] * weight[j * K + c];
      prob[c] = z;
      max = Math.max(max, z);
    }
    let total = 0;
    for (let c = 0; c < K; c += 1) total += Math.exp(prob[c] - max);
    const y = set.labels[i];
    const w = classWeights[y] / n;
    value += w * (max + Math.log(total) - prob[y]);
    for (let c = 0; c < K; c += 1) prob[c] = Math.exp(prob[c] - max) / total;
    for (let c = 0; c < K; c += 1) {
      const residual = w * (prob[c] - (c === y ? 1 : 0));
      for (let j = 0; j < dims; j += 1) gradWeight[j * K + c] += residual * x[j];
      gradBias[c] += residual;
    }
    for (let j = 0; j <= dims; j += 1) {
      for (let c = 0; c < K; c += 1) {
        for (let k = 0; k <= dims; k += 1) {
          for (let e = 0; e < K; e += 1) {
            const curvature = prob[c] * ((c === e ? 1 : 0) - prob[e]);
            hessian[(j * K + c) * p + (k * K + e)] += w * x[j] * x[k] * curvature;
          }
        }
      }
    }
  }
  for (let q = 0; q < dims * K; q += 1) {
    value += l2 * weight[q] * weight[q];
    gradWeight[q] += 2 * l2 * weight[q];
    hessian[q * p + q] += 2 * l2;
  }
  return { value, gradWeight, gradBias, hessian };
}

/** Solves A·x = b (A symmetric positive definite after damping) by Gaussian elimination. */
function solve(matrix: Float64Array, rhs: Float64Array): Float64Array {
  const p = rhs.length;
  const a = Float64Array.from(matrix);
  const b = Float64Array.from(rhs);
  for (let col = 0; col < p; col += 1) {
    let pivot = col;
    for (let row = col + 1; row < p; row += 1) {
      if (Math.abs(a[row * p + col]) > Math.abs(a[pivot * p + col])) pivot = row;
    }
    for (let k = 0; k < p; k += 1) [a[col * p + k], a[pivot * p + k]] = [a[pivot * p + k], a[col * p + k]];
    [b[col], b[pivot]] = [b[pivot], b[col]];
    for (let row = col + 1; row < p; row += 1) {
      const factor = a[row * p + col] / a[col * p + col];
      for (let k = col; k < p; k += 1) a[row * p + k] -= factor * a[col * p + k];
      b[row] -= factor * b[col];
    }
  }
  const x = new Float64Array(p);
  for (let row = p - 1; row >= 0; row -= 1) {
    let sum = b[row];
    for (let k = row + 1; k < p; k += 1) sum -= a[row * p + k] * x[k];
    x[row] = sum / a[row * p + row];
  }
  return x;
}

/**
 * Newton's method with backtracking from zero. The bias is unpenalised and softmax is invariant to
 * adding a constant to all three biases, so the Hessian is singular along that direction; a tiny
 * damping keeps the solve regular (the gradient has no component there, so the step has none).
 */
function newtonSolution(
  set: LabelledFeatures,
  dims: number,
  classWeights: readonly number[],
  l2: number,
): { weight: Float64Array; bias: Float64Array } {
  const p = (dims + 1) * K;
  let theta = new Float64Array(p);
  const split = (t: Float64Array) => ({ weight: t.subarray(0, dims * K), bias: t.subarray(dims * K) });
  const at = (t: Float64Array) => objective(set, dims, split(t).weight, split(t).bias, classWeights, l2);
  for (let iteration = 0; iteration < 50; iteration += 1) {
    const current = at(theta);
    const gradient = Float64Array.from([...current.gradWeight, ...current.gradBias]);
    if (Math.max(...gradient.map(Math.abs)) < 1e-12) break;
    const damped = Float64Array.from(current.hessian);
    for (let q = 0; q < p; q += 1) damped[q * p + q] += 1e-10;
    const step = solve(damped, gradient);
    let size = 1;
    let next = theta.map((t, q) => t - size * step[q]);
    while (at(next).value > current.value && size > 1e-8) {
      size /= 2;
      next = theta.map((t, q) => t - size * step[q]);
    }
    theta = next;
  }
  return { weight: Float64Array.from(split(theta).weight), bias: Float64Array.from(split(theta).bias) };
}

const centred = (bias: ArrayLike<number>) => {
  const mean = (bias[0] + bias[1] + bias[2]) / 3;
  return Array.from(bias, (b) => b - mean);
};
const maxAbs = (values: ArrayLike<number>) => Math.max(...Array.from(values, Math.abs));
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i])));
const recallOf = (set: LabelledFeatures, dims: number, fit: { weight: Float32Array; bias: Float32Array }) =>
  macroRecall(set.labels, predictLabels(set.features, dims, fit.weight, fit.bias));
const classRecall = (set: LabelledFeatures, predicted: Int32Array, c: number) => {
  let support = 0;
  let hits = 0;
  set.labels.forEach((label, i) => {
    if (label !== c) return;
    support += 1;
    if (predicted[i] === c) hits += 1;
  });
  return hits / support;
};

const baseOptions: HeadFitOptions = {
  l2: 1e-3,
  learningRate: 0.05,
  maxEpochs: 100,
  patience: 100,
  seed: 7,
  classWeights: 'balanced',
};

// ---------------------------------------------------------------------------------------------

describe('predictLabels and macroRecall', () => {
  it('takes the argmax of x·W + b, the first class on ties', () => {
    // dims 2; W columns: class 0 = (1, 0), class 1 = (0, 1), class 2 = (0, 0) with bias 0.5.
    const weight = Float32Array.from([1, 0, 0, 0, 1, 0]);
    const bias = Float32Array.from([0, 0, 0.5]);
    const features = Float32Array.from([1, 0, 0, 1, 0, 0, 0.5, 0.5, 0.5, 0.2]);
    expect(Array.from(predictLabels(features, 2, weight, bias))).toEqual([0, 1, 2, 0, 0]);
  });

  it('averages per-class recall over all three classes', () => {
    expect(macroRecall([0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 2, 2])).toBe(1);
    expect(macroRecall([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 0, 0])).toBeCloseTo((0.5 + 1 + 0) / 3, 12);
    // A class absent from the truth counts with recall 0, as in the quality gate.
    expect(macroRecall([0, 1], [0, 1])).toBeCloseTo(2 / 3, 12);
    expect(() => macroRecall([0, 3], [0, 1])).toThrow(RangeError);
    expect(() => macroRecall([0], [0, 1])).toThrow(RangeError);
  });
});

describe('fitSoftmaxHead', () => {
  const dims = 4;
  // Separated clusters (training recall 1 from the first epochs on, so selection by validation
  // macro recall falls back on the loss) with unequal class sizes, so the class weights matter.
  const optimumSet = clusters([150, 100, 50], dims, 2, 0.3, 11);
  const optimumL2 = 0.01;
  const optimumWeights = [300 / (3 * 150), 300 / (3 * 100), 300 / (3 * 50)];

  it('finds the optimum of the L2-regularised class-weighted cross-entropy', async () => {
    // Adam with a stepped learning rate, each stage warm-started from the last. Validation = training
    // set, so `validationLoss` is the training objective J and the best epoch is its minimum.
    let fit: Awaited<ReturnType<typeof fitSoftmaxHead>> | undefined;
    for (const [learningRate, epochs] of [
      [0.1, 100],
      [0.01, 60],
      [0.001, 40],
    ]) {
      fit = await fitSoftmaxHead(
        {
          train: optimumSet,
          validation: optimumSet,
          dims,
          init: fit && { weight: fit.weight, bias: fit.bias },
        },
        { ...baseOptions, l2: optimumL2, learningRate, maxEpochs: epochs, patience: epochs },
      );
    }
    if (!fit) throw new Error('unreachable');
    expect(fit.classWeights).toEqual(optimumWeights);
    expect(fit.history[fit.bestEpoch - 1].validationMacroRecall).toBe(1);

    const atFit = objective(optimumSet, dims, fit.weight, fit.bias, optimumWeights, optimumL2);
    expect(maxAbs(atFit.gradWeight)).toBeLessThan(1e-3);
    expect(maxAbs(atFit.gradBias)).toBeLessThan(1e-3);
    // The reported validation loss is J itself (float32 in tfjs vs float64 here).
    expect(fit.history[fit.bestEpoch - 1].validationLoss).toBeCloseTo(atFit.value, 5);

    const newton = newtonSolution(optimumSet, dims, optimumWeights, optimumL2);
    const atNewton = objective(optimumSet, dims, newton.weight, newton.bias, optimumWeights, optimumL2);
    expect(maxAbs(atNewton.gradWeight)).toBeLessThan(1e-10);
    expect(maxAbsDiff(fit.weight, newton.weight)).toBeLessThan(2e-3);
    // Biases are determined up to a common shift (softmax is invariant to it): compare them centred.
    expect(maxAbsDiff(centred(fit.bias), centred(newton.bias))).toBeLessThan(2e-3);
    expect(atFit.value - atNewton.value).toBeLessThan(1e-6);
  });

  it('separates separable data (training macro recall 1)', async () => {
    const set = clusters([60, 60, 60], dims, 3, 0.4, 5);
    const fit = await fitSoftmaxHead(
      { train: set, validation: set, dims },
      { ...baseOptions, maxEpochs: 60 },
    );
    expect(recallOf(set, dims, fit)).toBe(1);
  });

  it("'balanced' class weights raise minority and macro recall on balanced held-out data", async () => {
    // 80 / 15 / 5 %, overlapping clusters: unweighted, the 5 % class is mostly predicted as another.
    const train = clusters([240, 45, 15], dims, 1, 0.9, 21);
    const validation = clusters([80, 15, 5], dims, 1, 0.9, 22);
    const heldOut = clusters([300, 300, 300], dims, 1, 0.9, 23);
    // Both runs start from zero (not from a random draw that early stopping might keep).
    const init = { weight: new Float32Array(dims * K), bias: new Float32Array(K) };
    const options = { ...baseOptions, learningRate: 0.1, maxEpochs: 100, patience: 100 };
    const none = await fitSoftmaxHead(
      { train, validation, dims, init },
      { ...options, classWeights: 'none' },
    );
    const balanced = await fitSoftmaxHead(
      { train, validation, dims, init },
      { ...options, classWeights: 'balanced' },
    );
    expect(none.classWeights).toEqual([1, 1, 1]);
    expect(balanced.classWeights).toEqual([300 / (3 * 240), 300 / (3 * 45), 300 / (3 * 15)]);

    const predictedNone = predictLabels(heldOut.features, dims, none.weight, none.bias);
    const predictedBalanced = predictLabels(heldOut.features, dims, balanced.weight, balanced.bias);
    expect(classRecall(heldOut, predictedBalanced, 2)).toBeGreaterThan(
      classRecall(heldOut, predictedNone, 2) + 0.2,
    );
    expect(macroRecall(heldOut.labels, predictedBalanced)).toBeGreaterThan(
      macroRecall(heldOut.labels, predictedNone) + 0.05,
    );
  });

  it('accepts explicit class weights', async () => {
    const fit = await fitSoftmaxHead(
      { train: optimumSet, validation: optimumSet, dims },
      { ...baseOptions, maxEpochs: 5, classWeights: [1, 2, 3] },
    );
    expect(fit.classWeights).toEqual([1, 2, 3]);
  });

  it('is bitwise deterministic for the same input and seed, also with mini-batches', async () => {
    const train = clusters([100, 80, 60], dims, 1, 0.8, 31);
    const validation = clusters([40, 40, 40], dims, 1, 0.8, 32);
    const options = { ...baseOptions, maxEpochs: 20, batchSize: 64 };
    const first = await fitSoftmaxHead({ train, validation, dims }, options);
    const second = await fitSoftmaxHead({ train, validation, dims }, options);
    expect(Buffer.from(second.weight.buffer)).toEqual(Buffer.from(first.weight.buffer));
    expect(Buffer.from(second.bias.buffer)).toEqual(Buffer.from(first.bias.buffer));
    expect(second.history).toEqual(first.history);
    // The seed is used: another one starts elsewhere and ends elsewhere.
    const reseeded = await fitSoftmaxHead({ train, validation, dims }, { ...options, seed: 8 });
    expect(Buffer.from(reseeded.weight.buffer)).not.toEqual(Buffer.from(first.weight.buffer));
  });

  it('starts from the given weights', async () => {
    const init = {
      weight: Float32Array.from({ length: dims * K }, (_, q) => ((q * 37) % 11) / 5 - 1),
      bias: Float32Array.from([0.3, -0.2, 0.1]),
    };
    const options = { ...baseOptions, learningRate: 1e-3, maxEpochs: 1, patience: 1 };
    const warm = await fitSoftmaxHead({ train: optimumSet, validation: optimumSet, dims, init }, options);
    // Adam's first step moves every parameter by at most (about) the learning rate.
    expect(maxAbsDiff(warm.weight, init.weight)).toBeLessThan(1.01e-3);
    expect(maxAbsDiff(warm.bias, init.bias)).toBeLessThan(1.01e-3);
    expect(maxAbsDiff(warm.weight, init.weight)).toBeGreaterThan(0);
    const cold = await fitSoftmaxHead({ train: optimumSet, validation: optimumSet, dims }, options);
    expect(maxAbsDiff(cold.weight, init.weight)).toBeGreaterThan(0.1);
  });

  it('stops early when the validation set starts to disagree and returns the best epoch', async () => {
    // Validation keeps the true labels; the training labels are rotated (c → c + 1), so a head
    // warm-started near the true mapping gets worse on validation as it learns the training set.
    const truth = clusters([60, 60, 60], dims, 2, 0.3, 41);
    const validation = clusters([40, 40, 40], dims, 2, 0.3, 42);
    const start = await fitSoftmaxHead(
      { train: truth, validation, dims },
      { ...baseOptions, learningRate: 0.1, maxEpochs: 30 },
    );
    expect(recallOf(validation, dims, start)).toBe(1);

    const seen: number[] = [];
    const fit = await fitSoftmaxHead(
      {
        train: relabel(truth, (label) => (label + 1) % K),
        validation,
        dims,
        init: { weight: start.weight, bias: start.bias },
        onEpoch: (progress) => seen.push(progress.epoch),
      },
      { ...baseOptions, learningRate: 0.05, maxEpochs: 300, patience: 5 },
    );
    expect(fit.epochsRun).toBeLessThan(300);
    expect(fit.epochsRun).toBe(fit.bestEpoch + 5);
    expect(seen).toEqual(fit.history.map((h) => h.epoch));
    const best = fit.history[fit.bestEpoch - 1];
    const last = fit.history[fit.epochsRun - 1];
    expect(best.validationMacroRecall).toBe(Math.max(...fit.history.map((h) => h.validationMacroRecall)));
    expect(last.validationLoss).toBeGreaterThan(best.validationLoss + 1e-3);
    // The returned weights are the best epoch's, not the last one's: recompute its validation metrics.
    expect(recallOf(validation, dims, fit)).toBe(best.validationMacroRecall);
    const atFit = objective(validation, dims, fit.weight, fit.bias, fit.classWeights, baseOptions.l2);
    expect(atFit.value).toBeCloseTo(best.validationLoss, 5);
  });

  it('reports divergence instead of returning non-finite weights', async () => {
    const set = clusters([30, 30, 30], dims, 1, 0.8, 61);
    await expect(
      fitSoftmaxHead(
        { train: set, validation: set, dims },
        { ...baseOptions, learningRate: 1e38, maxEpochs: 5 },
      ),
    ).rejects.toThrow(/diverged .* lower the learning rate/);
  });

  it('frees its tensors', async () => {
    const set = clusters([30, 30, 30], dims, 1, 0.8, 51);
    const input: HeadFitInput = { train: set, validation: set, dims };
    await fitSoftmaxHead(input, { ...baseOptions, maxEpochs: 3, batchSize: 32 });
    const before = tf.memory().numTensors;
    await fitSoftmaxHead(input, { ...baseOptions, maxEpochs: 3, batchSize: 32 });
    await fitSoftmaxHead(input, { ...baseOptions, maxEpochs: 3 });
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.getBackend()).toBe('cpu');
  });
});

describe('fitSoftmaxHead input checks', () => {
  const dims = 2;
  const set = (features: number[], labels: number[]): LabelledFeatures => ({
    features: Float32Array.from(features),
    labels: Int32Array.from(labels),
  });
  const good = set([0.1, 0.2, -0.3, 0.4, 0.5, -0.6], [0, 1, 2]);
  const input: HeadFitInput = { train: good, validation: good, dims };
  const rejects = (i: HeadFitInput, o: HeadFitOptions, message: RegExp) =>
    expect(fitSoftmaxHead(i, o)).rejects.toThrow(
      expect.objectContaining({ name: 'HeadFitError', message: expect.stringMatching(message) }),
    );

  it('throws HeadFitError', async () => {
    await expect(fitSoftmaxHead({ ...input, train: set([], []) }, baseOptions)).rejects.toBeInstanceOf(
      HeadFitError,
    );
  });

  it.each<[string, HeadFitInput, RegExp]>([
    ['an empty training set', { ...input, train: set([], []) }, /train set is empty/],
    ['an empty validation set', { ...input, validation: set([], []) }, /validation set is empty/],
    ['features not n × dims', { ...input, train: set([0.1, 0.2, 0.3], [0, 1]) }, /n × dims = 2 × 2 = 4/],
    ['a label above 2', { ...input, train: set([0, 0, 0, 0], [0, 3]) }, /train\.labels\[1\] is 3/],
    [
      'a negative label',
      { ...input, validation: set([0, 0, 0, 0], [-1, 0]) },
      /validation\.labels\[0\] is -1/,
    ],
    ['a one-class training set', { ...input, train: set([0, 0, 1, 1], [2, 2]) }, /one-class dataset/],
    ['a NaN feature', { ...input, train: set([0, NaN, 0, 0], [0, 1]) }, /non-finite value \(NaN\) at row 0/],
    [
      'an infinite feature',
      { ...input, validation: set([0, 0, 0, Infinity], [0, 1]) },
      /non-finite .* row 1/,
    ],
    ['dims 0', { ...input, dims: 0 }, /dims must be an integer/],
    [
      'a short warm start',
      { ...input, init: { weight: new Float32Array(5), bias: new Float32Array(3) } },
      /init\.weight/,
    ],
    [
      'a bad warm-start bias',
      { ...input, init: { weight: new Float32Array(6), bias: new Float32Array(2) } },
      /init\.bias/,
    ],
  ])('rejects %s', (_name, badInput, message) => rejects(badInput, baseOptions, message));

  it.each<[string, Partial<HeadFitOptions>, RegExp]>([
    ['a negative l2', { l2: -1 }, /l2/],
    ['a NaN l2', { l2: NaN }, /l2/],
    ['a zero learning rate', { learningRate: 0 }, /learningRate/],
    ['zero epochs', { maxEpochs: 0 }, /maxEpochs/],
    ['fractional epochs', { maxEpochs: 1.5 }, /maxEpochs/],
    ['zero patience', { patience: 0 }, /patience/],
    ['a zero batch size', { batchSize: 0 }, /batchSize/],
    ['a fractional seed', { seed: 0.5 }, /seed/],
    ['two class weights', { classWeights: [1, 1] }, /classWeights/],
    ['a negative class weight', { classWeights: [1, -1, 1] }, /classWeights/],
    ['all-zero class weights', { classWeights: [0, 0, 0] }, /weight of 0/],
  ])('rejects %s', (_name, override, message) => rejects(input, { ...baseOptions, ...override }, message));
});
