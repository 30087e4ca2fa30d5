import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceSession } from 'onnxruntime-node';
import { TensorDataType, writeModelFile, type GraphProto, type ModelProto } from './onnx-proto';
import { readModelFile, readModelStructure } from './onnx-reader';
import { quantizeModel, type QuantizeOptions } from './quantize';
import { describeQuantization } from './quantization-info';
import { classifierGraph, runModel, SeededNormal } from './test/graphs';

const { model: float } = classifierGraph('bias-then-matmul');
const quantized = (options: QuantizeOptions) => quantizeModel(float, options).model;

describe('describeQuantization', () => {
  it('finds no quantization in a float graph', () => {
    expect(describeQuantization(float)).toEqual({
      weightType: 'none',
      perChannel: undefined,
      opTypes: [],
      quantizedWeights: 0,
    });
  });

  it.each<[string, QuantizeOptions, ReturnType<typeof describeQuantization>]>([
    [
      'int8 weights per column',
      { weightType: 'int8' },
      {
        weightType: 'int8',
        perChannel: true,
        opTypes: ['DynamicQuantizeLinear', 'MatMulInteger'],
        quantizedWeights: 2,
      },
    ],
    [
      'uint8 weights per column',
      { weightType: 'uint8' },
      {
        weightType: 'uint8',
        perChannel: true,
        opTypes: ['DynamicQuantizeLinear', 'MatMulInteger'],
        quantizedWeights: 2,
      },
    ],
    [
      'int8 weights per tensor',
      { weightType: 'int8', perChannel: false },
      {
        weightType: 'int8',
        perChannel: false,
        opTypes: ['DynamicQuantizeLinear', 'MatMulInteger'],
        quantizedWeights: 2,
      },
    ],
    [
      'the contrib op',
      { weightType: 'uint8', operator: 'DynamicQuantizeMatMul' },
      { weightType: 'uint8', perChannel: true, opTypes: ['DynamicQuantizeMatMul'], quantizedWeights: 2 },
    ],
  ])('reads %s from a graph ONNX Runtime runs', async (_, options, expected) => {
    const model = quantized(options);
    await expect(runModel(model, new SeededNormal(2).sample(10, 1))).resolves.toHaveProperty('logits');
    expect(describeQuantization(model)).toEqual(expected);
  });

  it('reads the optimized graph ONNX Runtime saves (MatMulIntegerToFloat, DynamicQuantizeMatMul)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quantization-info-'));
    try {
      const source = join(dir, 'model.onnx');
      const optimized = join(dir, 'optimized.onnx');
      await writeModelFile(source, quantized({ weightType: 'int8' }));
      const session = await InferenceSession.create(source, {
        graphOptimizationLevel: 'all',
        optimizedModelFilePath: optimized,
        logSeverityLevel: 3,
      });
      await session.release();
      const described = describeQuantization(await readModelFile(optimized));
      expect(described).toMatchObject({ weightType: 'int8', perChannel: true, quantizedWeights: 2 });
      expect(described.opTypes.some((op) => op !== 'DynamicQuantizeLinear' && op !== 'MatMulInteger')).toBe(
        true,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads QDQ graphs, Constant-node scales, and packed 4-bit weights as other', () => {
    const int8 = (name: string, dims: number[]) => ({
      name,
      dims,
      dataType: TensorDataType.INT8,
      rawData: new Uint8Array(dims.reduce((a, b) => a * b, 1)),
    });
    const qdq: GraphProto = {
      name: 'qdq',
      nodes: [
        {
          name: 'scale',
          opType: 'Constant',
          inputs: [],
          outputs: ['w_scale'],
          attributes: [
            {
              name: 'value',
              type: 'tensor',
              value: { name: '', dims: [4], dataType: TensorDataType.FLOAT, rawData: new Uint8Array(16) },
            },
          ],
        },
        { name: 'dq', opType: 'DequantizeLinear', inputs: ['w', 'w_scale'], outputs: ['w_float'] },
        { name: 'mm', opType: 'MatMul', inputs: ['x', 'w_float'], outputs: ['y'] },
      ],
      initializers: [int8('w', [4, 4])],
      inputs: [],
      outputs: [],
    };
    expect(describeQuantization(qdq)).toEqual({
      weightType: 'int8',
      perChannel: true,
      opTypes: ['DequantizeLinear'],
      quantizedWeights: 1,
    });
    const nBits: GraphProto = {
      ...qdq,
      nodes: [
        {
          name: 'mm',
          opType: 'MatMulNBits',
          domain: 'com.microsoft',
          inputs: ['x', 'w', 's'],
          outputs: ['y'],
        },
      ],
      initializers: [{ ...int8('w', [4, 1, 2]), dataType: TensorDataType.UINT8 }],
    };
    expect(describeQuantization(nBits)).toMatchObject({ weightType: 'other', opTypes: ['MatMulNBits'] });
  });
});

describe('readModelStructure', () => {
  it('reads nodes, opsets and tensor types but no weights, and describes the same quantization', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'model-structure-'));
    try {
      const path = join(dir, 'model.onnx');
      const model: ModelProto = quantized({ weightType: 'uint8' });
      await writeModelFile(path, model);
      const structure = await readModelStructure(path);
      const full = await readModelFile(path);
      expect(structure.opsetImports).toEqual(full.opsetImports);
      expect(structure.graph.nodes).toEqual(full.graph.nodes);
      expect(structure.graph.inputs).toEqual(full.graph.inputs);
      expect(structure.graph.initializers).toEqual(
        full.graph.initializers.map(({ name, dims, dataType }) => ({ name, dims, dataType })),
      );
      expect(describeQuantization(structure)).toEqual(describeQuantization(full));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a file that is not a model', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'model-structure-'));
    try {
      const path = join(dir, 'broken.onnx');
      await writeModelFile(path, float);
      const { truncate } = await import('node:fs/promises');
      await truncate(path, 40);
      await expect(readModelStructure(path)).rejects.toThrow(/not a valid ONNX model/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
