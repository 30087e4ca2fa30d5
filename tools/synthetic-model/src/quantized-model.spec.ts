import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import {
  float32Values,
  modelPaths,
  quantizeModelFile,
  readModelFile,
  TensorDataType,
  type ModelProto,
  type QuantizeOptions,
  type TensorProto,
} from '@reputation-monitor/onnx-graph';
import { generateSyntheticModel, type SyntheticModelResult } from './generate';

const TOKENIZER_DIR = resolve(__dirname, '../../../../shared/data/roberta-tokenizer');
const PAD_ID = 1;

/** Ids of real texts from the RoBERTa tokenizer (as in generate.spec.ts)… */
const REAL_SEQUENCES = [
  [0, 713, 16, 41, 1246, 2],
  [0, 31414, 232, 2],
  [0, 12350, 363, 17841, 27969, 2],
  [0, 100, 657, 42, 98, 203, 328, 2],
  [0, 713, 16, 5, 2373, 183, 655, 4, 2],
  [0, 133, 529, 16, 23, 155, 1685, 4, 2],
  [0, 22086, 13, 5, 244, 2350, 2],
  [0, 627, 2341, 21, 628, 456, 2],
];
/** …and fixed pseudo-texts of 4 to 32 tokens, so that agreement is a share of a few hundred. */
const SEQUENCES = [
  ...REAL_SEQUENCES,
  ...Array.from({ length: 248 }, (_, sequence) => {
    const length = 4 + (sequence % 29);
    const words = Array.from(
      { length: length - 2 },
      (_, position) => 3 + ((Math.imul(sequence * 7919 + position + 1, 2654435761) >>> 0) % 20000),
    );
    return [0, ...words, 2];
  }),
];

async function logitsOf(session: InferenceSession, sequences: number[][]): Promise<Float32Array> {
  const width = Math.max(...sequences.map((sequence) => sequence.length));
  const inputIds = new BigInt64Array(sequences.length * width).fill(BigInt(PAD_ID));
  const attentionMask = new BigInt64Array(sequences.length * width);
  sequences.forEach((sequence, row) =>
    sequence.forEach((id, position) => {
      inputIds[row * width + position] = BigInt(id);
      attentionMask[row * width + position] = 1n;
    }),
  );
  const shape = [sequences.length, width];
  const { logits } = await session.run({
    input_ids: new Tensor('int64', inputIds, shape),
    attention_mask: new Tensor('int64', attentionMask, shape),
  });
  return logits.data as Float32Array;
}

function compareLogits(expected: Float32Array, actual: Float32Array) {
  let agreeing = 0;
  let maxError = 0;
  let errorSum = 0;
  const argmax = (values: Float32Array, row: number) => {
    const slice = Array.from(values.subarray(row * 3, row * 3 + 3));
    return slice.indexOf(Math.max(...slice));
  };
  for (let row = 0; row < expected.length / 3; row++) {
    if (argmax(expected, row) === argmax(actual, row)) agreeing++;
    for (let label = 0; label < 3; label++) {
      const error = Math.abs(expected[row * 3 + label] - actual[row * 3 + label]);
      maxError = Math.max(maxError, error);
      errorSum += error;
    }
  }
  return { agreement: agreeing / (expected.length / 3), maxError, meanError: errorSum / expected.length };
}

describe('the quantized tiny synthetic model', () => {
  let workDir: string;
  let tiny: SyntheticModelResult;
  let fp32: InferenceSession;
  let int8: InferenceSession;
  let expected: Float32Array;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'quantize-tiny-'));
    tiny = await generateSyntheticModel({
      outDir: join(workDir, 'tiny'),
      preset: 'tiny',
      tokenizerDir: TOKENIZER_DIR,
      int8: true,
    });
    fp32 = await InferenceSession.create(tiny.modelPath);
    int8 = await InferenceSession.create(tiny.quantized?.modelPath ?? 'missing');
    expected = await logitsOf(fp32, SEQUENCES);
  });

  afterAll(async () => {
    await fp32?.release();
    await int8?.release();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('is written beside the fp32 graph and has its inputs and outputs', () => {
    expect(tiny.quantized?.modelPath).toBe(join(tiny.outDir, 'onnx', 'model_quantized.onnx'));
    expect(modelPaths(tiny.outDir)).toEqual({ fp32: tiny.modelPath, int8: tiny.quantized?.modelPath });
    expect(int8.inputMetadata).toEqual(fp32.inputMetadata);
    expect(int8.outputMetadata).toEqual(fp32.outputMetadata);
  });

  it('replaces every dense layer by an integer MatMul and keeps attention and embeddings in float', async () => {
    const original = await readModelFile(tiny.modelPath);
    const quantized = await readModelFile(tiny.quantized?.modelPath ?? 'missing');
    const count = (model: ModelProto, opType: string) =>
      model.graph.nodes.filter((node) => node.opType === opType).length;
    // 2 layers x (query, key, value, attention output, intermediate, output). The head's dense and out_proj
    // are Gemms, as in the torch export, and stay in float as onnxruntime's quantize_dynamic leaves them.
    expect(count(original, 'MatMul')).toBe(16);
    expect(count(quantized, 'MatMulInteger')).toBe(12);
    expect(tiny.quantized?.quantized).toHaveLength(12);
    expect(count(quantized, 'Gemm')).toBe(2);
    // The two attention products per layer multiply activations by activations.
    const initializerNames = new Set(quantized.graph.initializers.map((tensor) => tensor.name));
    const floatMatMuls = quantized.graph.nodes.filter((node) => node.opType === 'MatMul');
    expect(floatMatMuls).toHaveLength(4);
    expect(floatMatMuls.every((node) => !initializerNames.has(node.inputs[1]))).toBe(true);
    // One DynamicQuantizeLinear per activation: query, key and value share theirs.
    expect(count(quantized, 'DynamicQuantizeLinear')).toBe(2 * 4);

    const tensor = (model: ModelProto, name: string) => model.graph.initializers.find((t) => t.name === name);
    expect(tensor(quantized, 'roberta.embeddings.word_embeddings.weight')?.dataType).toBe(
      TensorDataType.FLOAT,
    );
    expect(tensor(quantized, 'roberta.encoder.layer.0.attention.self.query.weight')).toBeUndefined();
    expect(tensor(quantized, 'roberta.encoder.layer.0.attention.self.query.weight_quantized')).toMatchObject({
      dims: [32, 32],
      dataType: TensorDataType.UINT8,
    });

    // Every stored weight dequantizes to within scale/2 of the fp32 weight it replaced.
    for (const weight of original.graph.initializers.filter((t) =>
      initializerNames.has(`${t.name}_quantized`),
    )) {
      const values = tensor(quantized, `${weight.name}_quantized`)?.rawData as Uint8Array;
      const scales = float32Values(tensor(quantized, `${weight.name}_scale`) as TensorProto);
      const zeroPoints = tensor(quantized, `${weight.name}_zero_point`)?.rawData as Uint8Array;
      const floats = float32Values(weight);
      const columns = weight.dims[1];
      expect(scales).toHaveLength(columns);
      floats.forEach((value, index) => {
        const column = index % columns;
        const zeroPoint = zeroPoints[zeroPoints.length === 1 ? 0 : column];
        const error = Math.abs((values[index] - zeroPoint) * scales[column] - value);
        expect(error).toBeLessThanOrEqual((scales[column] / 2) * (1 + 1e-6));
      });
    }
  });

  // Bounds relative to the spread (rms) of the fp32 logits over these inputs, about 3 for the tiny model.
  // Correct 8-bit quantization moves them by ~5 % of it on average and ~20 % at worst (measured: uint8
  // 0.046 / 0.19, 7-bit int8 0.069 / 0.23), and keeps 94-97 % of labels (they change only where fp32's top
  // two logits nearly tie). A wiring mistake (a lost scale, zero point or bias) moves logits by about their
  // own spread. The bounds sit between, with 1.5-2x headroom over the worst setting.
  const TOLERANCE = { meanError: 0.1, maxError: 0.4, agreement: 0.9 };
  const withinTolerance = (actual: Float32Array) => {
    const spread = Math.sqrt(expected.reduce((sum, value) => sum + value * value, 0) / expected.length);
    const result = compareLogits(expected, actual);
    expect(result.meanError / spread).toBeLessThan(TOLERANCE.meanError);
    expect(result.maxError / spread).toBeLessThan(TOLERANCE.maxError);
    expect(result.agreement).toBeGreaterThanOrEqual(TOLERANCE.agreement);
  };

  it('gives logits close to fp32 and mostly the same label', async () => {
    withinTolerance(await logitsOf(int8, SEQUENCES));
    // Not trivially: fp32 itself predicts every label on these inputs.
    const labels = new Set(
      SEQUENCES.map((_, row) => {
        const slice = Array.from(expected.subarray(row * 3, row * 3 + 3));
        return slice.indexOf(Math.max(...slice));
      }),
    );
    expect(labels.size).toBe(3);
  });

  it.each<[string, QuantizeOptions, 'all' | 'disabled']>([
    ['the standard ops without onnxruntime fusions', { operator: 'MatMulInteger' }, 'disabled'],
    ['onnxruntime contrib op', { operator: 'DynamicQuantizeMatMul' }, 'all'],
    ['int8 weights, 7-bit', { weightType: 'int8', reduceRange: true }, 'all'],
    ['per-tensor scales', { perChannel: false }, 'all'],
  ])('stays within the same tolerance with %s', async (name, options, optimization) => {
    const path = join(workDir, `${name.replace(/\W+/g, '-')}.onnx`);
    const summary = await quantizeModelFile(tiny.modelPath, path, options);
    expect(summary.quantized).toHaveLength(12);
    const session = await InferenceSession.create(path, { graphOptimizationLevel: optimization });
    try {
      withinTolerance(await logitsOf(session, SEQUENCES));
    } finally {
      await session.release();
    }
  });

  it('drops an int8 graph when the model beside it is regenerated without one', async () => {
    const outDir = join(workDir, 'regenerated');
    await generateSyntheticModel({ outDir, preset: 'tiny', tokenizerDir: TOKENIZER_DIR, int8: true });
    expect(existsSync(join(outDir, 'onnx', 'model_quantized.onnx'))).toBe(true);
    const again = await generateSyntheticModel({
      outDir,
      preset: 'tiny',
      tokenizerDir: TOKENIZER_DIR,
      seed: 9,
    });
    expect(again.quantized).toBeUndefined();
    expect(existsSync(join(outDir, 'onnx', 'model_quantized.onnx'))).toBe(false);
    expect(await readdir(join(outDir, 'onnx'))).toEqual(['model.onnx']);
  });
});
