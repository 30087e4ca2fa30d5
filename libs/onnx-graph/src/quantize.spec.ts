import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import {
  float32RawData,
  TensorDataType,
  writeModelFile,
  type ModelProto,
  type TensorProto,
} from './onnx-proto';
import { float32Values, quantizeModel, quantizeWeight, type QuantizeOptions } from './quantize';
import { SeededNormal } from './test/graphs';

describe('quantizeWeight', () => {
  const rows = 64;
  const columns = 12;
  const weight = new SeededNormal(3).sample(rows * columns, 0.05);
  // Columns that stress the range: all zero, all positive, one outlier.
  for (let row = 0; row < rows; row++) {
    weight[row * columns] = 0;
    weight[row * columns + 1] = Math.abs(weight[row * columns + 1]) + 0.01;
  }
  weight[5 * columns + 2] = 3;

  const cases: Array<QuantizeOptions & { qmin: number; qmax: number }> = [
    { weightType: 'uint8', perChannel: true, qmin: 0, qmax: 255 },
    { weightType: 'uint8', perChannel: false, qmin: 0, qmax: 255 },
    { weightType: 'uint8', reduceRange: true, qmin: 0, qmax: 127 },
    { weightType: 'int8', perChannel: true, qmin: -127, qmax: 127 },
    { weightType: 'int8', perChannel: false, qmin: -127, qmax: 127 },
    { weightType: 'int8', reduceRange: true, qmin: -64, qmax: 64 },
  ];
  it.each(cases)('keeps every weight within scale/2 of its value: %o', ({ qmin, qmax, ...options }) => {
    const { values, scales, zeroPoints } = quantizeWeight(weight, rows, columns, options);
    expect(values).toBeInstanceOf(options.weightType === 'int8' ? Int8Array : Uint8Array);
    expect(scales).toHaveLength(options.perChannel === false ? 1 : columns);
    if (options.weightType === 'int8') expect(Array.from(zeroPoints).every((zero) => zero === 0)).toBe(true);
    for (let index = 0; index < weight.length; index++) {
      const group = scales.length === 1 ? 0 : index % columns;
      expect(values[index]).toBeGreaterThanOrEqual(qmin);
      expect(values[index]).toBeLessThanOrEqual(qmax);
      const dequantized = (values[index] - zeroPoints[group]) * scales[group];
      // scale/2 is the rounding bound; 1e-6 relative absorbs float32 arithmetic on the scale itself.
      expect(Math.abs(dequantized - weight[index])).toBeLessThanOrEqual((scales[group] / 2) * (1 + 1e-6));
    }
    if (scales.length > 1) {
      // Zero stays exactly zero, and a column's grid follows its own range, not the outlier's.
      expect(values[0] - zeroPoints[0]).toBe(0);
      expect(scales[3]).toBeLessThan(scales[2] / 10);
    }
  });
});

describe('quantizeModel on a hand-made graph', () => {
  const sampler = new SeededNormal(11);
  const floatTensor = (name: string, dims: number[], values: Float32Array): TensorProto => ({
    name,
    dims,
    dataType: TensorDataType.FLOAT,
    rawData: float32RawData(values),
  });
  const weights = [1, 2, 3, 4].map((index) => floatTensor(`W${index}`, [16, 5], sampler.sample(80, 0.3)));
  const model: ModelProto = {
    irVersion: 8,
    opsetImports: [{ domain: '', version: 17 }],
    producerName: 'test',
    producerVersion: '1',
    graph: {
      name: 'g',
      nodes: [
        { name: 'transpose', opType: 'Transpose', inputs: ['X'], outputs: ['Xt'] },
        { name: 'mm1', opType: 'MatMul', inputs: ['X', 'W1'], outputs: ['Y1'] },
        { name: 'copy', opType: 'Identity', inputs: ['W1'], outputs: ['W1_copy'] },
        { name: 'mm2', opType: 'MatMul', inputs: ['X', 'W2'], outputs: ['Y2'] },
        { name: 'mm3', opType: 'MatMul', inputs: ['X', 'W3'], outputs: ['Y3'] },
        { name: 'mm4', opType: 'MatMul', inputs: ['X', 'W4'], outputs: ['P4'] },
        { name: 'bias4', opType: 'Add', inputs: ['B4', 'P4'], outputs: ['Y4'] },
        { name: 'mm5', opType: 'MatMul', inputs: ['X', 'Xt'], outputs: ['Y5'] },
      ],
      initializers: [...weights, floatTensor('B4', [5], Float32Array.of(0.5, -1, 0, 2, 0.1))],
      inputs: [
        { name: 'X', elemType: TensorDataType.FLOAT, shape: ['n', 16] },
        // W2 is an initializer that callers may override: not a constant.
        { name: 'W2', elemType: TensorDataType.FLOAT, shape: [16, 5] },
      ],
      outputs: ['Y1', 'Y2', 'Y3', 'Y4', 'Y5'].map((name) => ({
        name,
        elemType: TensorDataType.FLOAT,
        shape: ['n', name === 'Y5' ? 'n' : 5],
      })),
    },
  };
  const withCopy: ModelProto = {
    ...model,
    graph: {
      ...model.graph,
      outputs: [...model.graph.outputs, { name: 'W1_copy', elemType: TensorDataType.FLOAT, shape: [16, 5] }],
    },
  };
  const input = new SeededNormal(5).sample(7 * 16, 1);
  input[3] = 4; // an outlier that widens the activation grid

  let workDir: string;
  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'quantize-graph-'));
  });
  afterAll(async () => {
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  async function run(graph: ModelProto, name: string, optimization: 'all' | 'disabled') {
    const path = join(workDir, `${name}.onnx`);
    await writeModelFile(path, graph);
    // Severity 3 (errors only): onnxruntime warns, rightly, that W2 is an overridable initializer.
    const session = await InferenceSession.create(path, {
      graphOptimizationLevel: optimization,
      logSeverityLevel: 3,
    });
    try {
      return await session.run({ X: new Tensor('float32', input, [7, 16]) });
    } finally {
      await session.release();
    }
  }

  it('quantizes the MatMuls with a constant weight and leaves the others as they were', () => {
    const { model: quantized, summary } = quantizeModel(withCopy, { excludeNodes: ['mm3'] });
    expect(summary.quantized).toEqual(['mm1', 'mm4']);
    expect(summary.skipped).toEqual([
      { node: 'mm2', reason: 'weight is also a graph input' },
      { node: 'mm3', reason: 'excluded' },
      { node: 'mm5', reason: 'second input is not an initializer' },
    ]);
    const names = quantized.graph.initializers.map((tensor) => tensor.name);
    // W1 is still read by Identity, W4 only by its MatMul.
    expect(names).toEqual(
      expect.arrayContaining(['W1', 'W2', 'W3', 'W1_quantized', 'W4_quantized', 'W4_scale']),
    );
    expect(names).not.toContain('W4');
    expect(quantized.graph.nodes.filter((node) => node.opType === 'MatMul').map((node) => node.name)).toEqual(
      ['mm2', 'mm3', 'mm5'],
    );
    // One DynamicQuantizeLinear for X, shared by both quantized MatMuls.
    expect(quantized.graph.nodes.filter((node) => node.opType === 'DynamicQuantizeLinear')).toHaveLength(1);
    // The bias moves to the Add's second operand, where onnxruntime's fusion looks for it.
    expect(quantized.graph.nodes.find((node) => node.name === 'bias4')?.inputs).toEqual(['P4', 'B4']);
    // The input model is left untouched.
    expect(withCopy.graph.nodes.find((node) => node.name === 'bias4')?.inputs).toEqual(['B4', 'P4']);
  });

  // A product of quantized values misses the float product by at most
  // sum_k |x_k| * s_w / 2 + |w_k| * s_x / 2 + s_x * s_w / 4 (each factor is within half its step).
  it.each([
    ['MatMulInteger', 'all'],
    ['MatMulInteger', 'disabled'],
    ['DynamicQuantizeMatMul', 'all'],
  ] as const)(
    'computes within the rounding bound of each product (%s, optimization %s)',
    async (operator, level) => {
      const expected = await run(model, 'float', level);
      const { model: quantized } = quantizeModel(model, { operator });
      const actual = await run(quantized, `${operator}-${level}`, level);
      const activationScale = (Math.max(0, ...Array.from(input)) - Math.min(0, ...Array.from(input))) / 255;
      for (const [output, weightName] of [
        ['Y1', 'W1'],
        ['Y4', 'W4'],
      ]) {
        const weight = float32Values(
          model.graph.initializers.find((tensor) => tensor.name === weightName) as TensorProto,
        );
        const { scales } = quantizeWeight(weight, 16, 5);
        const got = actual[output].data as Float32Array;
        const want = expected[output].data as Float32Array;
        for (let row = 0; row < 7; row++) {
          for (let column = 0; column < 5; column++) {
            let bound = 0;
            for (let k = 0; k < 16; k++) {
              bound +=
                (Math.abs(input[row * 16 + k]) * scales[column]) / 2 +
                (Math.abs(weight[k * 5 + column]) * activationScale) / 2 +
                (activationScale * scales[column]) / 4;
            }
            expect(Math.abs(got[row * 5 + column] - want[row * 5 + column])).toBeLessThanOrEqual(
              bound * 1.001 + 1e-6,
            );
          }
        }
      }
      // Untouched MatMuls give the float result.
      expect(Array.from(actual.Y5.data as Float32Array)).toEqual(
        Array.from(expected.Y5.data as Float32Array),
      );
    },
  );

  it('refuses a model older than opset 11', () => {
    expect(() => quantizeModel({ ...model, opsetImports: [{ domain: '', version: 10 }] })).toThrow(
      'needs 11 or later',
    );
  });
});
