import {
  findClassifierHead,
  NoClassifierHeadError,
  withFeatureOutput,
  withHeadWeights,
  type ClassifierHead,
} from './classifier-head';
import { encodeModel, TensorDataType, type ModelProto, type NodeProto } from './onnx-proto';
import { decodeModel } from './onnx-reader';
import { float32Values, quantizeModel } from './quantize';
import {
  classifierGraph,
  FEATURE_SIZE,
  INPUT_SIZE,
  LABEL_COUNT,
  linear,
  runModel,
  SeededNormal,
  transposed,
  withFloatData,
  type HeadVariant,
} from './test/graphs';

const ROWS = 16;
const input = new SeededNormal(99).sample(ROWS * INPUT_SIZE, 1);

/** Through the writer and the reader, as a model file goes. */
const roundTrip = (model: ModelProto) => decodeModel(new Uint8Array(Buffer.concat(encodeModel(model))));

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number) {
  expect(actual.length).toBe(expected.length);
  let maxError = 0;
  for (let index = 0; index < expected.length; index++) {
    maxError = Math.max(maxError, Math.abs(actual[index] - expected[index]));
  }
  expect(maxError).toBeLessThanOrEqual(tolerance);
}

const NO_HEAD = /^the base model has no classification head the trainer can re-fit: /;

function expectNoHead(model: ModelProto, what: string | RegExp) {
  let error: unknown;
  try {
    findClassifierHead(model);
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(NoClassifierHeadError);
  expect((error as Error).message).toMatch(NO_HEAD);
  expect((error as Error).message).toMatch(what);
}

describe.each<[HeadVariant, ClassifierHead['weightLayout']]>([
  ['bias-then-matmul', 'in-out'],
  ['matmul-then-bias', 'in-out'],
  ['gemm', 'in-out'],
  ['gemm-transposed', 'out-in'],
])('a head computed by %s', (variant, weightLayout) => {
  const { model, weight, bias } = classifierGraph(variant);
  const replacement = {
    weight: new SeededNormal(7).sample(FEATURE_SIZE * LABEL_COUNT, 1),
    bias: Float32Array.of(0.25, -1.5, 3),
  };

  it('is found, with its weight in canonical [in, out] layout', () => {
    const head = findClassifierHead(model);
    expect(head).toMatchObject({
      featureName: 'pooled',
      featureSize: FEATURE_SIZE,
      labelCount: LABEL_COUNT,
      biasInitializer: 'classifier.out_proj.bias',
      weightLayout,
    });
    expect(Array.from(head.weight)).toEqual(Array.from(weight));
    expect(Array.from(head.bias)).toEqual(Array.from(bias));
    // Copies: changing them leaves the model alone.
    head.weight.fill(0);
    expect(Array.from(findClassifierHead(model).weight)).toEqual(Array.from(weight));
  });

  it('gives features from which the logits follow as features @ W + b, in one run', async () => {
    const head = findClassifierHead(model);
    const withFeatures = withFeatureOutput(model, head);
    expect(withFeatures.graph.outputs.slice(1)).toEqual([
      { name: 'pooled', elemType: TensorDataType.FLOAT, shape: ['batch_size', FEATURE_SIZE] },
    ]);
    expect(model.graph.outputs).toHaveLength(1);
    const outputs = await runModel(withFeatures, input);
    expect(outputs.pooled).toHaveLength(ROWS * FEATURE_SIZE);
    expectClose(outputs.logits, linear(outputs.pooled, head.weight, head.bias), 1e-5);
    // The extra output changes nothing about the logits.
    expectClose(outputs.logits, (await runModel(model, input)).logits, 0);
  });

  it('takes new weights, stores them in its own layout and computes with them', async () => {
    const head = findClassifierHead(model);
    const refitted = roundTrip(withHeadWeights(model, head, replacement));
    const [stored] = refitted.graph.initializers.filter((tensor) => tensor.name === head.weightInitializer);
    expect(stored.dims).toEqual(
      weightLayout === 'in-out' ? [FEATURE_SIZE, LABEL_COUNT] : [LABEL_COUNT, FEATURE_SIZE],
    );
    expect(Array.from(float32Values(stored))).toEqual(
      Array.from(weightLayout === 'in-out' ? replacement.weight : transposed(replacement.weight)),
    );

    const before = await runModel(withFeatureOutput(model, head), input);
    const after = await runModel(withFeatureOutput(refitted, findClassifierHead(refitted)), input);
    expectClose(after.pooled, before.pooled, 0);
    expectClose(after.logits, linear(after.pooled, replacement.weight, replacement.bias), 1e-5);
  });

  it('changes nothing else in the graph and leaves the input model as it was', () => {
    const head = findClassifierHead(model);
    const refitted = withHeadWeights(model, head, replacement);
    expect(refitted.graph.nodes).toBe(model.graph.nodes);
    expect(refitted.graph.outputs).toBe(model.graph.outputs);
    refitted.graph.initializers.forEach((tensor, index) => {
      const original = model.graph.initializers[index];
      if ([head.weightInitializer, head.biasInitializer].includes(tensor.name)) {
        expect({ ...tensor, rawData: undefined }).toEqual({ ...original, rawData: undefined });
      } else {
        expect(tensor).toBe(original);
      }
    });
    expect(Array.from(findClassifierHead(model).weight)).toEqual(Array.from(weight));
    // The model holds its own copy of the new values.
    const copy = Float32Array.from(replacement.weight);
    const fromCopy = withHeadWeights(model, head, { ...replacement, weight: copy });
    copy.fill(0);
    expect(Array.from(findClassifierHead(fromCopy).weight)).toEqual(Array.from(replacement.weight));
  });
});

describe('findClassifierHead', () => {
  it('reads weights stored as float_data as well as raw_data, and writes them back as raw_data', async () => {
    const { model, weight, bias } = classifierGraph('bias-then-matmul');
    const asFloatData: ModelProto = {
      ...model,
      graph: { ...model.graph, initializers: model.graph.initializers.map(withFloatData) },
    };
    const decoded = roundTrip(asFloatData);
    const head = findClassifierHead(decoded);
    expect(Array.from(head.weight)).toEqual(Array.from(weight));
    expect(Array.from(head.bias)).toEqual(Array.from(bias));

    const refitted = withHeadWeights(decoded, head, { weight: head.weight.map((value) => -value), bias });
    const outputs = await runModel(withFeatureOutput(roundTrip(refitted), head), input);
    expectClose(
      outputs.logits,
      linear(
        outputs.pooled,
        head.weight.map((value) => -value),
        bias,
      ),
      1e-5,
    );
  });

  it('names the batch dimension of the feature output after the one of the logits', () => {
    const { model } = classifierGraph('bias-then-matmul', 1, 'N');
    const withFeatures = withFeatureOutput(model, findClassifierHead(model));
    expect(withFeatures.graph.outputs.map((output) => output.shape)).toEqual([
      ['N', LABEL_COUNT],
      ['N', FEATURE_SIZE],
    ]);
    expect(withFeatureOutput(withFeatures, findClassifierHead(model))).toBe(withFeatures);
  });

  const { model } = classifierGraph('bias-then-matmul');
  const edit = (change: (graph: ModelProto['graph']) => Partial<ModelProto['graph']>): ModelProto => ({
    ...model,
    graph: { ...model.graph, ...change(model.graph) },
  });
  const replaceNode = (nodes: readonly NodeProto[], name: string, replacement: NodeProto[]) =>
    nodes.flatMap((node) => (node.name === name ? replacement : [node]));

  it('says so when the graph has no logits output', () => {
    expectNoHead(
      edit((graph) => ({ outputs: [{ ...graph.outputs[0], name: 'scores' }] })),
      'it has no graph output "logits" (its outputs: "scores")',
    );
  });

  it('says so when the logits come from something other than a linear layer', () => {
    const softmaxed = edit((graph) => ({
      nodes: [
        ...graph.nodes.map((node) =>
          node.outputs[0] === 'logits' ? { ...node, outputs: ['scores'] } : node,
        ),
        { name: '/Softmax', opType: 'Softmax', inputs: ['scores'], outputs: ['logits'] },
      ],
    }));
    expectNoHead(softmaxed, '"logits" comes from Softmax node "/Softmax", not from a linear layer');

    const sum = edit((graph) => ({
      nodes: replaceNode(graph.nodes, '/classifier/out_proj/MatMul', [
        {
          name: '/Mul',
          opType: 'Mul',
          inputs: ['pooled', 'pooled'],
          outputs: ['/classifier/out_proj/MatMul_output_0'],
        },
      ]),
    }));
    expectNoHead(
      sum,
      /comes from Add node "\/classifier\/out_proj\/Add" whose operands are .* not a MatMul's product/,
    );
  });

  it('says so when the weight or the bias is not an initializer', () => {
    const computedWeight = edit((graph) => ({
      nodes: [
        {
          name: '/weight/Identity',
          opType: 'Identity',
          inputs: ['stored_weight'],
          outputs: ['onnx::MatMul_1234'],
        },
        ...graph.nodes,
      ],
      initializers: graph.initializers.map((tensor) =>
        tensor.name === 'onnx::MatMul_1234' ? { ...tensor, name: 'stored_weight' } : tensor,
      ),
    }));
    expectNoHead(
      computedWeight,
      'the weight "onnx::MatMul_1234" of MatMul node "/classifier/out_proj/MatMul" + Add node "/classifier/out_proj/Add" ' +
        'is computed by Identity node "/weight/Identity", not an initializer',
    );

    const biasAsInput = edit((graph) => ({
      initializers: graph.initializers.filter((tensor) => tensor.name !== 'classifier.out_proj.bias'),
      inputs: [
        ...graph.inputs,
        { name: 'classifier.out_proj.bias', elemType: TensorDataType.FLOAT, shape: [3] },
      ],
    }));
    expectNoHead(
      biasAsInput,
      /the bias "classifier.out_proj.bias" of .* is a graph input, not an initializer/,
    );
  });

  it('says so when the shapes disagree', () => {
    const resize = (name: string, dims: number[], length: number) =>
      edit((graph) => ({
        initializers: graph.initializers.map((tensor) =>
          tensor.name === name ? { ...tensor, dims, rawData: new Uint8Array(length * 4) } : tensor,
        ),
      }));
    expectNoHead(
      resize('classifier.out_proj.bias', [4], 4),
      'has a weight "onnx::MatMul_1234" of [8, 3] (8 features, 3 labels) but a bias "classifier.out_proj.bias" of [4] with 4 values',
    );
    expectNoHead(resize('onnx::MatMul_1234', [8, 3], 20), /but 20 values in it/);
    expectNoHead(resize('onnx::MatMul_1234', [2, 4, 3], 24), /is \[2, 4, 3\], not 2-D/);
    expectNoHead(
      edit((graph) => ({ outputs: [{ ...graph.outputs[0], shape: ['batch_size', 4] }] })),
      /but the graph output "logits" is \[batch_size, 4\]/,
    );
  });

  it('says so when the weight is shared with another layer or the Gemm is not a plain linear layer', () => {
    const shared = edit((graph) => ({
      nodes: [
        ...graph.nodes,
        {
          name: '/other/MatMul',
          opType: 'MatMul',
          inputs: ['pooled', 'onnx::MatMul_1234'],
          outputs: ['other'],
        },
      ],
    }));
    expectNoHead(shared, /"onnx::MatMul_1234" of .* is also read by MatMul node "\/other\/MatMul"/);

    const gemm = classifierGraph('gemm').model;
    const withAttributes = (attributes: NodeProto['attributes']): ModelProto => ({
      ...gemm,
      graph: {
        ...gemm.graph,
        nodes: gemm.graph.nodes.map((node) => (node.opType === 'Gemm' ? { ...node, attributes } : node)),
      },
    });
    expectNoHead(
      withAttributes([{ name: 'alpha', type: 'float', value: 0.5 }]),
      'with alpha 0.5, beta 1, transA 0; only alpha 1, beta 1, transA 0 is a plain linear layer',
    );
    const noBias: ModelProto = {
      ...gemm,
      graph: {
        ...gemm.graph,
        nodes: gemm.graph.nodes.map((node) =>
          node.opType === 'Gemm' ? { ...node, inputs: node.inputs.slice(0, 2) } : node,
        ),
      },
    };
    expectNoHead(noBias, 'which has no bias');
  });
});

describe('withHeadWeights', () => {
  const { model } = classifierGraph('bias-then-matmul');
  const head = findClassifierHead(model);

  it('refuses weights of the wrong size or with values that are not finite', () => {
    expect(() =>
      withHeadWeights(model, head, { weight: new Float32Array(23), bias: new Float32Array(3) }),
    ).toThrow('the new weight has 23 values, not 8 x 3 = 24');
    expect(() =>
      withHeadWeights(model, head, { weight: new Float32Array(24), bias: new Float32Array(2) }),
    ).toThrow('the new bias has 2 values, not 3');
    expect(() =>
      withHeadWeights(model, head, { weight: new Float32Array(24).fill(NaN), bias: new Float32Array(3) }),
    ).toThrow('the new weight has values that are not finite');
  });

  it('refuses a head that belongs to another model', () => {
    const other = classifierGraph('gemm-transposed').model;
    expect(() =>
      withHeadWeights(other, head, { weight: new Float32Array(24), bias: new Float32Array(3) }),
    ).toThrow('the model has no initializer "onnx::MatMul_1234" to replace');
  });

  it('gives a graph that still quantizes, with int8 logits close to the fp32 ones', async () => {
    const weight = new SeededNormal(5).sample(FEATURE_SIZE * LABEL_COUNT, 1);
    const bias = Float32Array.of(1, 0, -1);
    const refitted = withHeadWeights(model, head, { weight, bias });
    const { model: quantized, summary } = quantizeModel(refitted);
    expect(summary.quantized).toEqual(['/dense/MatMul', '/classifier/out_proj/MatMul']);
    expect(summary.skipped).toEqual([]);

    const { logits: fp32, pooled } = await runModel(withFeatureOutput(refitted, head), input);
    expectClose(fp32, linear(pooled, weight, bias), 1e-5);
    const int8 = (await runModel(quantized, input)).logits;
    // 8-bit weights and activations move these logits by about 3 % of their spread (measured); a lost
    // scale, zero point or bias, or the old weights, would move them by about the spread itself.
    const spread = Math.sqrt(fp32.reduce((sum, value) => sum + value * value, 0) / fp32.length);
    expect(spread).toBeGreaterThan(0.5);
    expectClose(int8, fp32, 0.1 * spread);
  });
});
