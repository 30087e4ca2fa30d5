import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import {
  encodeModel,
  findClassifierHead,
  quantizeModel,
  readModelFile,
  withFeatureOutput,
  withHeadWeights,
  type ModelProto,
} from '@reputation-monitor/onnx-graph';
import { generateSyntheticModel, type SyntheticModelResult } from './generate';
import { PRESETS } from './presets';

const TOKENIZER_DIR = resolve(__dirname, '../../../../shared/data/roberta-tokenizer');
const PAD_ID = 1;
/** Ids of real texts from the RoBERTa tokenizer, as in generate.spec.ts. */
const SEQUENCES = [
  [0, 713, 16, 41, 1246, 2],
  [0, 31414, 232, 2],
  [0, 12350, 363, 17841, 27969, 2],
  [0, 100, 657, 42, 98, 203, 328, 2],
  [0, 713, 16, 5, 2373, 183, 655, 4, 2],
];

async function run(model: ModelProto): Promise<Record<string, Float32Array>> {
  const session = await InferenceSession.create(new Uint8Array(Buffer.concat(encodeModel(model))));
  const width = Math.max(...SEQUENCES.map((sequence) => sequence.length));
  const inputIds = new BigInt64Array(SEQUENCES.length * width).fill(BigInt(PAD_ID));
  const attentionMask = new BigInt64Array(SEQUENCES.length * width);
  SEQUENCES.forEach((sequence, row) =>
    sequence.forEach((id, position) => {
      inputIds[row * width + position] = BigInt(id);
      attentionMask[row * width + position] = 1n;
    }),
  );
  const shape = [SEQUENCES.length, width];
  try {
    const outputs = await session.run({
      input_ids: new Tensor('int64', inputIds, shape),
      attention_mask: new Tensor('int64', attentionMask, shape),
    });
    return Object.fromEntries(
      Object.entries(outputs).map(([name, tensor]) => [name, tensor.data as Float32Array]),
    );
  } finally {
    await session.release();
  }
}

/** features [rows, in] @ weight [in, out] + bias, in float64. */
function linear(features: Float32Array, weight: Float32Array, bias: Float32Array): number[] {
  const labels = bias.length;
  const size = weight.length / labels;
  return Array.from({ length: (features.length / size) * labels }, (_, index) => {
    const [row, label] = [Math.floor(index / labels), index % labels];
    let sum = bias[label];
    for (let feature = 0; feature < size; feature++) {
      sum += features[row * size + feature] * weight[feature * labels + label];
    }
    return sum;
  });
}

const maxDifference = (actual: ArrayLike<number>, expected: ArrayLike<number>) =>
  Math.max(...Array.from(actual, (value, index) => Math.abs(value - expected[index])));

describe('the classification head of the tiny synthetic model', () => {
  let workDir: string;
  let tiny: SyntheticModelResult;
  let model: ModelProto;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'classifier-head-'));
    tiny = await generateSyntheticModel({
      outDir: join(workDir, 'tiny'),
      preset: 'tiny',
      tokenizerDir: TOKENIZER_DIR,
    });
    model = await readModelFile(tiny.modelPath);
  });

  afterAll(async () => {
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('is found on the tanh of the <s> state', () => {
    const head = findClassifierHead(model);
    expect(head).toMatchObject({
      featureName: 'pooled',
      featureSize: PRESETS.tiny.hiddenSize,
      labelCount: 3,
      weightInitializer: 'classifier.out_proj.weight',
      biasInitializer: 'classifier.out_proj.bias',
      // torch writes a Linear on [batch, features] as Gemm with the weight as it stores it, [out, in].
      weightLayout: 'out-in',
      nodes: ['/classifier/out_proj/Gemm'],
    });
    expect(head.featureSize).toBe(32);
  });

  it('gives features that explain the logits, and takes new weights that survive quantization', async () => {
    const head = findClassifierHead(model);
    const before = await run(withFeatureOutput(model, head));
    expect(maxDifference(before.logits, linear(before.pooled, head.weight, head.bias))).toBeLessThan(1e-5);

    // The re-fit a trainer would make: here, the labels' columns rotated.
    const weight = head.weight.map((_, index) => head.weight[index - (index % 3) + ((index + 1) % 3)]);
    const bias = Float32Array.of(head.bias[1], head.bias[2], head.bias[0]);
    const refitted = withHeadWeights(model, head, { weight, bias });
    const after = await run(withFeatureOutput(refitted, head));
    expect(maxDifference(after.pooled, before.pooled)).toBe(0);
    expect(maxDifference(after.logits, linear(after.pooled, weight, bias))).toBeLessThan(1e-5);

    // The encoder goes to int8; the head's Gemms stay in float (as with onnxruntime's quantize_dynamic).
    const { model: quantized, summary } = quantizeModel(refitted);
    expect(summary.quantized).toHaveLength(12);
    expect(quantized.graph.nodes.filter((node) => node.opType === 'Gemm')).toHaveLength(2);
    const int8 = (await run(quantized)).logits;
    const spread = Math.sqrt(
      after.logits.reduce((sum, value) => sum + value * value, 0) / after.logits.length,
    );
    // The tolerance of quantized-model.spec.ts's worst case: 40 % of the spread of the fp32 logits.
    expect(maxDifference(int8, after.logits) / spread).toBeLessThan(0.4);
  });
});
