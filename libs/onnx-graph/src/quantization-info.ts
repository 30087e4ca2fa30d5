/**
 * What quantization a graph carries, read from its nodes: the 8-bit weight type, whether the weights have one
 * scale per output channel, and the quantized operator types. Works on any exporter's layout (this package's
 * quantizer, onnxruntime's quantize_dynamic / quantize_static in QOperator or QDQ form, an optimized graph)
 * and on a structure read without weights (readModelStructure).
 */
import {
  TensorDataType,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from './onnx-proto';

export type QuantizedWeightType = 'int8' | 'uint8' | 'mixed' | 'other' | 'none';

export interface GraphQuantization {
  /** The data type of the quantized weights: int8, uint8, both (mixed), another (4-bit …), or none at all. */
  weightType: QuantizedWeightType;
  /** One scale per output channel (true), one per tensor (false), both, or nothing quantized (undefined). */
  perChannel: boolean | 'mixed' | undefined;
  /** The quantization-related operator types in the graph, sorted (from QUANTIZED_OP_TYPES). */
  opTypes: string[];
  /** Nodes that multiply by quantized weights. */
  quantizedWeights: number;
}

/** Where an operator takes its quantized weight, its scale and its zero point (input indices). */
interface WeightInputs {
  weight: number;
  scale?: number;
  zeroPoint?: number;
  /** Packed 4-bit (or other width) weights in a uint8 tensor: neither int8 nor uint8 arithmetic. */
  packed?: boolean;
}

/** Operators that carry quantized weights, by type (any domain: ai.onnx or com.microsoft). */
const WEIGHT_INPUTS: Readonly<Record<string, WeightInputs>> = {
  MatMulInteger: { weight: 1, zeroPoint: 3 },
  ConvInteger: { weight: 1, zeroPoint: 3 },
  DynamicQuantizeMatMul: { weight: 1, scale: 2, zeroPoint: 3 },
  MatMulIntegerToFloat: { weight: 1, scale: 3, zeroPoint: 5 },
  QLinearMatMul: { weight: 3, scale: 4, zeroPoint: 5 },
  QLinearConv: { weight: 3, scale: 4, zeroPoint: 5 },
  QGemm: { weight: 3, scale: 4, zeroPoint: 5 },
  QAttention: { weight: 1, scale: 4, zeroPoint: 7 },
  DequantizeLinear: { weight: 0, scale: 1, zeroPoint: 2 },
  MatMulNBits: { weight: 1, scale: 2, packed: true },
};

/** Every operator type reported; a closed list, so a metric label built from it stays bounded. */
export const QUANTIZED_OP_TYPES: readonly string[] = [
  ...Object.keys(WEIGHT_INPUTS),
  'DynamicQuantizeLinear',
  'QuantizeLinear',
  'DynamicQuantizeLSTM',
].sort();

const elementCount = (tensor: TensorProto) => tensor.dims.reduce((product, dim) => product * dim, 1);

/** Describes the quantization of a model (weights optional: only names, dims and data types are read). */
export function describeQuantization(model: ModelProto | GraphProto): GraphQuantization {
  const graph = 'graph' in model ? model.graph : model;
  const initializers = new Map(graph.initializers.map((tensor) => [tensor.name, tensor]));
  // Constant nodes hold small tensors (scales, zero points) in some exports.
  for (const node of graph.nodes) {
    const value = node.opType === 'Constant' ? node.attributes?.find((a) => a.name === 'value') : undefined;
    if (value?.type === 'tensor')
      initializers.set(node.outputs[0], { ...value.value, name: node.outputs[0] });
  }
  const producers = new Map<string, NodeProto>();
  const consumers = new Map<string, NodeProto[]>();
  for (const node of graph.nodes) {
    for (const output of node.outputs) producers.set(output, node);
    for (const input of node.inputs) consumers.set(input, [...(consumers.get(input) ?? []), node]);
  }

  /** MatMulInteger's weight scale is applied after it: output → Cast → Mul(·, a_scale × b_scale or b_scale). */
  const scaleAfter = (node: NodeProto): TensorProto | undefined => {
    let current = node.outputs[0];
    const cast = consumers.get(current)?.find((next) => next.opType === 'Cast');
    if (cast) current = cast.outputs[0];
    for (const mul of consumers.get(current)?.filter((next) => next.opType === 'Mul') ?? []) {
      const other = mul.inputs.find((input) => input !== current);
      if (!other) continue;
      const direct = initializers.get(other);
      if (direct) return direct;
      const product = producers.get(other);
      if (product?.opType !== 'Mul') continue;
      const scales = product.inputs.map((input) => initializers.get(input)).filter((t) => t !== undefined);
      if (scales.length > 0) return scales.reduce((a, b) => (elementCount(b) > elementCount(a) ? b : a));
    }
    return undefined;
  };

  const weightTypes = new Set<string>();
  const perChannel = new Set<boolean>();
  const opTypes = new Set<string>();
  let quantizedWeights = 0;
  for (const node of graph.nodes) {
    if (QUANTIZED_OP_TYPES.includes(node.opType)) opTypes.add(node.opType);
    const inputs = WEIGHT_INPUTS[node.opType];
    const weight = inputs && initializers.get(node.inputs[inputs.weight] ?? '');
    if (!inputs || !weight) continue; // not a weight (activations × activations, a dequantized activation …)
    if (weight.dataType === TensorDataType.FLOAT) continue;
    quantizedWeights++;
    weightTypes.add(
      inputs.packed
        ? 'other'
        : weight.dataType === TensorDataType.INT8
          ? 'int8'
          : weight.dataType === TensorDataType.UINT8
            ? 'uint8'
            : 'other',
    );
    const scale =
      inputs.scale !== undefined ? initializers.get(node.inputs[inputs.scale] ?? '') : scaleAfter(node);
    const zeroPoint =
      inputs.zeroPoint !== undefined ? initializers.get(node.inputs[inputs.zeroPoint] ?? '') : undefined;
    const groups = Math.max(scale ? elementCount(scale) : 1, zeroPoint ? elementCount(zeroPoint) : 1);
    perChannel.add(groups > 1);
  }

  let weightType: QuantizedWeightType = 'none';
  if (weightTypes.size > 1) weightType = weightTypes.has('other') ? 'other' : 'mixed';
  else if (weightTypes.size === 1) weightType = [...weightTypes][0] as QuantizedWeightType;
  return {
    weightType,
    perChannel: perChannel.size === 0 ? undefined : perChannel.size > 1 ? 'mixed' : [...perChannel][0],
    opTypes: [...opTypes].sort(),
    quantizedWeights,
  };
}
