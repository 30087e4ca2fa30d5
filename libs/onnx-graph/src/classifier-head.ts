/**
 * Surgery on a sequence classifier's last layer (RoBERTa's `classifier.out_proj`): find it, expose its input
 * features as an extra graph output, and write re-fitted weights back, leaving the rest of the graph as it was.
 *
 * The layouts exporters produce for a Linear layer that computes the `logits` output:
 * - `Add(bias, MatMul(x, W))` or `Add(MatMul(x, W), bias)` with W stored [in, out] (torch.onnx / optimum, and
 *   the synthetic generator);
 * - `Gemm(x, W, bias)` with W stored [in, out] (transB 0) or [out, in] (transB 1, torch's own layout).
 */
import {
  float32RawData,
  TensorDataType,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from './onnx-proto';
import { float32Values } from './quantize';

/** The graph output the head must produce, as in the Hugging Face / optimum export. */
export const LOGITS_OUTPUT = 'logits';

const NO_HEAD = 'the base model has no classification head the trainer can re-fit:';

/** Thrown when a graph has no last layer that findClassifierHead can re-fit; the message says what it found. */
export class NoClassifierHeadError extends Error {
  constructor(found: string) {
    super(`${NO_HEAD} ${found}`);
    this.name = 'NoClassifierHeadError';
  }
}

/** How the weight initializer is stored: [in, out] (MatMul, Gemm transB 0) or [out, in] (Gemm transB 1). */
export type WeightLayout = 'in-out' | 'out-in';

export interface ClassifierHead {
  /** The tensor the head reads, [batch, featureSize]: for RoBERTa the tanh of the pooled `<s>` state. */
  featureName: string;
  featureSize: number;
  labelCount: number;
  /** [featureSize, labelCount], row-major, whatever the stored layout: logits = features @ weight + bias. A copy. */
  weight: Float32Array;
  /** labelCount values. A copy. */
  bias: Float32Array;
  /** Names of the initializers withHeadWeights replaces. */
  weightInitializer: string;
  biasInitializer: string;
  weightLayout: WeightLayout;
  /** The node or nodes that compute the logits (MatMul and Add, or one Gemm), for messages. */
  nodes: string[];
}

export interface HeadWeights {
  /** [featureSize, labelCount], row-major (ClassifierHead's canonical layout). */
  weight: Float32Array;
  bias: Float32Array;
}

const isDefaultDomain = (node: NodeProto) => !node.domain || node.domain === 'ai.onnx';
const nodeLabel = (node: NodeProto) => `${node.opType} node "${node.name || node.outputs[0]}"`;
const shapeOf = (dims: readonly (number | string)[]) => `[${dims.join(', ')}]`;

/** The layer's wiring, before its tensors are checked. */
interface HeadLayer {
  feature: string;
  weight: string;
  bias: string;
  weightLayout: WeightLayout;
  nodes: NodeProto[];
}

/** Finds the layer that produces `logits`; throws NoClassifierHeadError saying what it found instead. */
export function findClassifierHead(model: ModelProto): ClassifierHead {
  const { graph } = model;
  const logits = graph.outputs.find((output) => output.name === LOGITS_OUTPUT);
  if (!logits) {
    const names = graph.outputs.map((output) => `"${output.name}"`).join(', ') || 'none';
    throw new NoClassifierHeadError(`it has no graph output "${LOGITS_OUTPUT}" (its outputs: ${names})`);
  }
  const producers = new Map<string, NodeProto>();
  for (const node of graph.nodes) for (const output of node.outputs) if (output) producers.set(output, node);
  const initializers = new Map(graph.initializers.map((tensor) => [tensor.name, tensor]));

  const last = producers.get(LOGITS_OUTPUT);
  if (!last) {
    throw new NoClassifierHeadError(
      `no node computes "${LOGITS_OUTPUT}" (it is ${initializers.has(LOGITS_OUTPUT) ? 'a constant' : 'a graph input'})`,
    );
  }
  const layer =
    last.opType === 'Add' && isDefaultDomain(last)
      ? matMulAddLayer(last, producers, initializers)
      : last.opType === 'Gemm' && isDefaultDomain(last)
        ? gemmLayer(last)
        : undefined;
  if (!layer) {
    throw new NoClassifierHeadError(
      `"${LOGITS_OUTPUT}" comes from ${nodeLabel(last)}, not from a linear layer (MatMul + Add, or Gemm)`,
    );
  }

  const where = layer.nodes.map(nodeLabel).join(' + ');
  const constantFloat = (name: string, role: string): TensorProto => {
    const tensor = initializers.get(name);
    if (!tensor) {
      const producer = producers.get(name);
      const origin = producer ? `computed by ${nodeLabel(producer)}` : 'a graph input';
      throw new NoClassifierHeadError(`the ${role} "${name}" of ${where} is ${origin}, not an initializer`);
    }
    if (tensor.dataType !== TensorDataType.FLOAT) {
      throw new NoClassifierHeadError(
        `the ${role} "${name}" of ${where} has data type ${tensor.dataType}, not float32`,
      );
    }
    // External data (models over 2 GB) lives in another file, which this package does not rewrite.
    if (!tensor.rawData) {
      throw new NoClassifierHeadError(`the ${role} "${name}" of ${where} has no data inside the model file`);
    }
    return tensor;
  };
  if (initializers.has(layer.feature)) {
    throw new NoClassifierHeadError(`the input "${layer.feature}" of ${where} is a constant, not features`);
  }
  const weight = constantFloat(layer.weight, 'weight');
  const bias = constantFloat(layer.bias, 'bias');

  // Re-fitting a tensor that other nodes read as well would change them too.
  const headNodes = new Set(layer.nodes);
  for (const tensor of [weight, bias]) {
    const reader = graph.nodes.find((node) => !headNodes.has(node) && node.inputs.includes(tensor.name));
    if (reader || graph.outputs.some((output) => output.name === tensor.name)) {
      const by = reader ? nodeLabel(reader) : 'a graph output';
      throw new NoClassifierHeadError(`"${tensor.name}" of ${where} is also read by ${by}`);
    }
  }

  if (weight.dims.length !== 2) {
    throw new NoClassifierHeadError(
      `the weight "${weight.name}" of ${where} is ${shapeOf(weight.dims)}, not 2-D`,
    );
  }
  const [featureSize, labelCount] =
    layer.weightLayout === 'in-out' ? weight.dims : [...weight.dims].reverse();
  const storedWeight = float32Values(weight);
  const storedBias = float32Values(bias);
  const mismatch = (what: string) =>
    new NoClassifierHeadError(
      `${where} has a weight "${weight.name}" of ${shapeOf(weight.dims)} (${featureSize} features, ` +
        `${labelCount} labels) but ${what}`,
    );
  if (storedWeight.length !== featureSize * labelCount) {
    throw mismatch(`${storedWeight.length} values in it`);
  }
  const biasShapeFits =
    (bias.dims.length === 1 && bias.dims[0] === labelCount) ||
    (bias.dims.length === 2 && bias.dims[0] === 1 && bias.dims[1] === labelCount);
  if (!biasShapeFits || storedBias.length !== labelCount) {
    throw mismatch(`a bias "${bias.name}" of ${shapeOf(bias.dims)} with ${storedBias.length} values`);
  }
  // A named (symbolic) label dimension says nothing about the size; a number must agree.
  const declaredLabels = logits.shape?.[1];
  if (
    logits.shape &&
    (logits.shape.length !== 2 || (typeof declaredLabels === 'number' && declaredLabels !== labelCount))
  ) {
    throw mismatch(`the graph output "${LOGITS_OUTPUT}" is ${shapeOf(logits.shape)}`);
  }

  return {
    featureName: layer.feature,
    featureSize,
    labelCount,
    weight:
      layer.weightLayout === 'in-out'
        ? storedWeight.slice()
        : transpose(storedWeight, labelCount, featureSize),
    bias: storedBias.slice(),
    weightInitializer: weight.name,
    biasInitializer: bias.name,
    weightLayout: layer.weightLayout,
    nodes: layer.nodes.map((node) => node.name || node.outputs[0]),
  };
}

function matMulAddLayer(
  add: NodeProto,
  producers: Map<string, NodeProto>,
  initializers: Map<string, TensorProto>,
): HeadLayer {
  const matMuls = add.inputs.map((input) => {
    const producer = producers.get(input);
    return producer?.opType === 'MatMul' && isDefaultDomain(producer) ? producer : undefined;
  });
  // The product is the operand a MatMul computes, the bias the other one (checked by the caller).
  const matMulIndex = matMuls[0] ? 0 : 1;
  const matMul = matMuls[matMulIndex];
  if (add.inputs.length !== 2 || !matMul || matMul.inputs.length !== 2) {
    const origins = add.inputs.map((input) => {
      const producer = producers.get(input);
      return `"${input}" (${producer ? `from ${nodeLabel(producer)}` : initializers.has(input) ? 'a constant' : 'a graph input'})`;
    });
    throw new NoClassifierHeadError(
      `"${LOGITS_OUTPUT}" comes from ${nodeLabel(add)} whose operands are ${origins.join(' and ')}, not a MatMul's product and a bias`,
    );
  }
  return {
    feature: matMul.inputs[0],
    weight: matMul.inputs[1],
    bias: add.inputs[1 - matMulIndex],
    weightLayout: 'in-out',
    nodes: [matMul, add],
  };
}

function gemmLayer(gemm: NodeProto): HeadLayer {
  const attribute = (name: string, fallback: number) => {
    const found = gemm.attributes?.find((candidate) => candidate.name === name);
    return found && (found.type === 'int' || found.type === 'float') ? found.value : fallback;
  };
  const [alpha, beta, transA, transB] = [
    attribute('alpha', 1),
    attribute('beta', 1),
    attribute('transA', 0),
    attribute('transB', 0),
  ];
  if (alpha !== 1 || beta !== 1 || transA !== 0) {
    throw new NoClassifierHeadError(
      `"${LOGITS_OUTPUT}" comes from ${nodeLabel(gemm)} with alpha ${alpha}, beta ${beta}, transA ${transA}; ` +
        'only alpha 1, beta 1, transA 0 is a plain linear layer',
    );
  }
  if (gemm.inputs.length < 3 || !gemm.inputs[2]) {
    throw new NoClassifierHeadError(`"${LOGITS_OUTPUT}" comes from ${nodeLabel(gemm)}, which has no bias`);
  }
  return {
    feature: gemm.inputs[0],
    weight: gemm.inputs[1],
    bias: gemm.inputs[2],
    weightLayout: transB ? 'out-in' : 'in-out',
    nodes: [gemm],
  };
}

/** A row-major [rows, columns] matrix as [columns, rows]. */
function transpose(values: Float32Array, rows: number, columns: number): Float32Array {
  const transposed = new Float32Array(values.length);
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++) {
      transposed[column * rows + row] = values[row * columns + column];
    }
  }
  return transposed;
}

/**
 * A copy of the model that also outputs the head's input features, [batch, featureSize] float32 with the batch
 * dimension named as in `logits`, so one run gives both. The model is returned as it is when it already does.
 */
export function withFeatureOutput(model: ModelProto, head: ClassifierHead): ModelProto {
  const { graph } = model;
  if (!graph.nodes.some((node) => node.outputs.includes(head.featureName))) {
    throw new Error(`the model has no node that computes "${head.featureName}", the head's input`);
  }
  if (graph.outputs.some((output) => output.name === head.featureName)) return model;
  const batch = graph.outputs.find((output) => output.name === LOGITS_OUTPUT)?.shape?.[0] ?? 'batch_size';
  return {
    ...model,
    graph: {
      ...graph,
      outputs: [
        ...graph.outputs,
        { name: head.featureName, elemType: TensorDataType.FLOAT, shape: [batch, head.featureSize] },
      ],
    },
  };
}

/**
 * A copy of the model whose head computes `features @ weight + bias` with the given values (weight in the
 * canonical [featureSize, labelCount] layout, stored back in the graph's own layout). Every other tensor,
 * node and field stays as it was; the input model and arrays are not modified.
 */
export function withHeadWeights(model: ModelProto, head: ClassifierHead, weights: HeadWeights): ModelProto {
  const { featureSize, labelCount } = head;
  if (weights.weight.length !== featureSize * labelCount) {
    throw new RangeError(
      `the new weight has ${weights.weight.length} values, not ${featureSize} x ${labelCount} = ${featureSize * labelCount}`,
    );
  }
  if (weights.bias.length !== labelCount) {
    throw new RangeError(`the new bias has ${weights.bias.length} values, not ${labelCount}`);
  }
  // A NaN or an infinity from a diverged fit would give a model that loads and predicts garbage.
  for (const [name, values] of Object.entries(weights)) {
    if (!values.every(Number.isFinite))
      throw new RangeError(`the new ${name} has values that are not finite`);
  }

  const storedDims = head.weightLayout === 'in-out' ? [featureSize, labelCount] : [labelCount, featureSize];
  const replacements = new Map<string, Float32Array>([
    [
      head.weightInitializer,
      head.weightLayout === 'in-out'
        ? Float32Array.from(weights.weight)
        : transpose(weights.weight, featureSize, labelCount),
    ],
    [head.biasInitializer, Float32Array.from(weights.bias)],
  ]);
  const found = new Set<string>();
  const initializers = model.graph.initializers.map((tensor) => {
    const values = replacements.get(tensor.name);
    if (!values) return tensor;
    const expected = tensor.name === head.weightInitializer ? storedDims : [labelCount];
    const elements = tensor.dims.reduce((product, dim) => product * dim, 1);
    const fits =
      tensor.dataType === TensorDataType.FLOAT &&
      (tensor.name === head.weightInitializer
        ? shapeOf(tensor.dims) === shapeOf(storedDims)
        : elements === labelCount);
    if (!fits) {
      throw new Error(
        `"${tensor.name}" in this model is ${shapeOf(tensor.dims)}, not the head's ${shapeOf(expected)}: ` +
          'was the head found in another model?',
      );
    }
    found.add(tensor.name);
    // Same name, dims and other fields (doc strings …): only the values change. The copy above means later
    // changes to the caller's arrays do not reach the model.
    return { ...tensor, dataType: TensorDataType.FLOAT, rawData: float32RawData(values) };
  });
  const missing = [...replacements.keys()].filter((name) => !found.has(name));
  if (missing.length > 0) {
    throw new Error(
      `the model has no initializer ${missing.map((name) => `"${name}"`).join(' or ')} to replace`,
    );
  }
  return { ...model, graph: { ...model.graph, initializers } };
}
