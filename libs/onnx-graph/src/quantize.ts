/**
 * Dynamic 8-bit ("int8") quantization of an ONNX model's MatMuls, as onnxruntime's `quantize_dynamic` does it
 * (QOperator format, MatMulConstBOnly), written from its documented behaviour:
 *
 * - a MatMul whose second input is a constant 2-D float initializer gets its weight stored as 8-bit
 *   integers with a scale and zero point, per output column by default (per tensor on request);
 * - its first input is quantized at run time to uint8 by DynamicQuantizeLinear (one per activation tensor,
 *   shared by the MatMuls that read it, e.g. query, key and value);
 * - MatMulInteger multiplies in int32, and Cast + Mul by (activation scale × weight scale) return to float;
 * - every other node, activation × activation MatMuls (attention scores) and the embedding Gathers stay float.
 *   Like quantize_dynamic, no MatMul is skipped for being small: per-column scales keep even the 768 × 3
 *   classifier within 0.2 % of each column's range, and `excludeNodes` is there for exceptions.
 */
import { existsSync } from 'node:fs';
import { endianness } from 'node:os';
import { dirname, join } from 'node:path';
import {
  AttributeType,
  TensorDataType,
  writeModelFile,
  float32RawData,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from './onnx-proto';
import { readModelFile } from './onnx-reader';

/** int8: symmetric, zero point 0 (quantize_dynamic's default QInt8). uint8: asymmetric (QUInt8). */
export type WeightType = 'int8' | 'uint8';

/**
 * MatMulInteger: standard ONNX ops (opset 11), which any runtime runs and onnxruntime fuses into its own
 * MatMulIntegerToFloat at load. DynamicQuantizeMatMul: onnxruntime's com.microsoft contrib op, one node per
 * MatMul with the bias Add folded in; only onnxruntime runs it.
 */
export type QuantizedMatMulOperator = 'MatMulInteger' | 'DynamicQuantizeMatMul';

export interface QuantizeOptions {
  /** One scale (and zero point) per output column rather than one per weight tensor. */
  perChannel?: boolean;
  /**
   * 7-bit weights. Some x86 kernels (AVX2 without VNNI) multiply uint8 × int8 pairs into a saturating
   * int16; halving the weight range rules that out, at a cost in precision.
   */
  reduceRange?: boolean;
  weightType?: WeightType;
  operator?: QuantizedMatMulOperator;
  /** Names of MatMul nodes to leave in float (quantize_dynamic's nodes_to_exclude). */
  excludeNodes?: readonly string[];
}

export interface QuantizedWeight {
  /** Row-major [rows, columns], like the float weight. */
  values: Int8Array | Uint8Array;
  /** One per column with perChannel, else one. */
  scales: Float32Array;
  /** Same length as scales; dequantized = (value - zeroPoint) * scale. */
  zeroPoints: Int8Array | Uint8Array;
}

export interface QuantizationSummary {
  /** Names of the MatMul nodes that now run in int8. */
  quantized: string[];
  /** MatMuls left in float, with the reason. */
  skipped: Array<{ node: string; reason: string }>;
  /** Bytes of the float weights replaced, and of their int8 replacements (values, scales, zero points). */
  floatWeightBytes: number;
  quantizedWeightBytes: number;
}

/**
 * The library's defaults (the CLIs choose the weight type per CPU, see cpu-int8.ts):
 * - uint8 weights: exact on every CPU. onnxruntime's AVX2 kernel for uint8 × int8 (vpmaddubsw) adds pairs of
 *   products into a saturating int16, so full-range int8 weights can give wrong sums on a CPU without VNNI.
 *   With VNNI or AMX, int8 weights are exact and take the u8 × s8 dot-product kernel, which ran about twice
 *   as fast as uint8 on the base preset (README, Benchmarks): `npm run model:quantize` (--weight-type auto)
 *   and `npm run model:synthetic -- --int8` pick int8 there.
 * - per column: one scale per output feature costs nothing at run time (a vector Mul) and follows each
 *   column's own range.
 * - MatMulInteger: as fast as the contrib DynamicQuantizeMatMul (onnxruntime fuses the standard ops into
 *   MatMulIntegerToFloat when it loads the graph), and any ONNX runtime can run it.
 */
export const DEFAULT_QUANTIZE_OPTIONS: Required<Omit<QuantizeOptions, 'excludeNodes'>> = {
  perChannel: true,
  reduceRange: false,
  weightType: 'uint8',
  operator: 'MatMulInteger',
};

const MS_DOMAIN = 'com.microsoft';
/** DynamicQuantizeLinear exists from opset 11. */
const MIN_OPSET = 11;
const isLittleEndian = endianness() === 'LE';

function rangeOf(weightType: WeightType, reduceRange: boolean): [qmin: number, qmax: number] {
  if (weightType === 'int8') return reduceRange ? [-64, 64] : [-127, 127];
  return reduceRange ? [0, 127] : [0, 255];
}

/**
 * Quantizes a row-major [rows, columns] weight. Each value lands on the nearest step of its column's (or the
 * tensor's) grid, so |w - (q - zeroPoint) * scale| <= scale / 2: the grid always spans the value range.
 */
export function quantizeWeight(
  weight: Float32Array,
  rows: number,
  columns: number,
  options: Pick<QuantizeOptions, 'perChannel' | 'reduceRange' | 'weightType'> = {},
): QuantizedWeight {
  if (weight.length !== rows * columns) {
    throw new RangeError(`weight has ${weight.length} values, not ${rows} x ${columns}`);
  }
  const { weightType, perChannel, reduceRange } = { ...DEFAULT_QUANTIZE_OPTIONS, ...options };
  const [qmin, qmax] = rangeOf(weightType, reduceRange);
  const groups = perChannel ? columns : 1;

  // The range of each column (or of the whole tensor), widened to contain 0 so that 0 is exact.
  const minimum = new Float64Array(groups);
  const maximum = new Float64Array(groups);
  for (let row = 0; row < rows; row++) {
    const offset = row * columns;
    for (let column = 0; column < columns; column++) {
      const value = weight[offset + column];
      const group = perChannel ? column : 0;
      if (value < minimum[group]) minimum[group] = value;
      if (value > maximum[group]) maximum[group] = value;
    }
  }

  const scales = new Float32Array(groups);
  const zeroPoints = weightType === 'int8' ? new Int8Array(groups) : new Uint8Array(groups);
  for (let group = 0; group < groups; group++) {
    let scale: number;
    if (weightType === 'int8') {
      scale = Math.max(-minimum[group], maximum[group]) / qmax;
    } else {
      scale = (maximum[group] - minimum[group]) / (qmax - qmin);
    }
    // Stored as float32; the grid must be the stored one for the error bound to hold.
    scale = Math.fround(scale);
    // An all-zero column: any scale represents it exactly (quantize_dynamic uses 1).
    if (!(scale >= 1.1754943508222875e-38)) scale = 1;
    scales[group] = scale;
    if (weightType === 'uint8') {
      zeroPoints[group] = Math.min(qmax, Math.max(qmin, Math.round(qmin - minimum[group] / scale)));
    }
  }

  const values = weightType === 'int8' ? new Int8Array(weight.length) : new Uint8Array(weight.length);
  for (let row = 0; row < rows; row++) {
    const offset = row * columns;
    for (let column = 0; column < columns; column++) {
      const group = perChannel ? column : 0;
      const quantized = Math.round(weight[offset + column] / scales[group]) + zeroPoints[group];
      values[offset + column] = Math.min(qmax, Math.max(qmin, quantized));
    }
  }
  return { values, scales, zeroPoints };
}

/** A FLOAT tensor's values; a view when the bytes are aligned and the host little-endian, else a copy. */
export function float32Values(tensor: TensorProto): Float32Array {
  const bytes = tensor.rawData;
  if (tensor.dataType !== TensorDataType.FLOAT || !bytes) {
    throw new Error(`${tensor.name} is not a float tensor with inline data`);
  }
  const count = bytes.byteLength / 4;
  if (isLittleEndian && bytes.byteOffset % 4 === 0)
    return new Float32Array(bytes.buffer, bytes.byteOffset, count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Float32Array.from({ length: count }, (_, index) => view.getFloat32(index * 4, true));
}

const isDefaultDomain = (domain: string | undefined) => !domain || domain === 'ai.onnx';

/** Node inputs and outputs, initializers and graph inputs and outputs: every name new ones must avoid. */
function namesIn(graph: GraphProto): Set<string> {
  const names = new Set<string>();
  for (const node of graph.nodes) {
    names.add(node.name);
    for (const name of [...node.inputs, ...node.outputs]) names.add(name);
  }
  for (const tensor of [...graph.initializers, ...graph.inputs, ...graph.outputs]) names.add(tensor.name);
  return names;
}

/**
 * Returns a copy of the model with its eligible MatMuls quantized. Tensors that do not change are shared
 * with the input, which is never modified.
 */
export function quantizeModel(
  model: ModelProto,
  options: QuantizeOptions = {},
): { model: ModelProto; summary: QuantizationSummary } {
  const { graph } = model;
  const { operator, weightType } = { ...DEFAULT_QUANTIZE_OPTIONS, ...options };
  const weightDataType = weightType === 'int8' ? TensorDataType.INT8 : TensorDataType.UINT8;
  const defaultOpset = model.opsetImports.find((opset) => isDefaultDomain(opset.domain));
  if (!defaultOpset || defaultOpset.version < MIN_OPSET) {
    throw new Error(
      `the model imports ONNX opset ${defaultOpset?.version ?? 'none'}; dynamic quantization needs ${MIN_OPSET} or later`,
    );
  }

  const initializers = new Map(graph.initializers.map((tensor) => [tensor.name, tensor]));
  const graphInputs = new Set(graph.inputs.map((input) => input.name));
  const graphOutputs = new Set(graph.outputs.map((output) => output.name));
  const excluded = new Set(options.excludeNodes ?? []);
  const consumers = new Map<string, NodeProto[]>();
  for (const node of graph.nodes) {
    for (const input of node.inputs) consumers.set(input, [...(consumers.get(input) ?? []), node]);
  }
  const taken = namesIn(graph);
  const unique = (base: string) => {
    let name = base;
    for (let suffix = 1; taken.has(name); suffix++) name = `${base}_${suffix}`;
    taken.add(name);
    return name;
  };
  /** A constant (not overridable as a graph input) float initializer with inline data. */
  const constantFloat = (name: string) => {
    const tensor = initializers.get(name);
    return tensor && !graphInputs.has(name) && tensor.dataType === TensorDataType.FLOAT && tensor.rawData
      ? tensor
      : undefined;
  };

  const summary: QuantizationSummary = {
    quantized: [],
    skipped: [],
    floatWeightBytes: 0,
    quantizedWeightBytes: 0,
  };
  const skipReason = (node: NodeProto): string | undefined => {
    if (excluded.has(node.name)) return 'excluded';
    const weight = initializers.get(node.inputs[1]);
    if (!weight) return 'second input is not an initializer';
    if (graphInputs.has(weight.name)) return 'weight is also a graph input';
    if (!constantFloat(weight.name)) return 'weight is not a float tensor with inline data';
    if (weight.dims.length !== 2) return `weight has ${weight.dims.length} dimensions, not 2`;
    return undefined;
  };

  // Quantized weights by float weight name, shared when several MatMuls use one weight.
  const quantizedWeights = new Map<
    string,
    { values: string; scale: string; zeroPoint: string; tensors: TensorProto[] }
  >();
  const quantizeInitializer = (tensor: TensorProto) => {
    const existing = quantizedWeights.get(tensor.name);
    if (existing) return existing;
    const [rows, columns] = tensor.dims;
    const weight = quantizeWeight(float32Values(tensor), rows, columns, { ...options, weightType });
    const names = {
      values: unique(`${tensor.name}_quantized`),
      scale: unique(`${tensor.name}_scale`),
      zeroPoint: unique(`${tensor.name}_zero_point`),
    };
    const perColumn = weight.scales.length > 1;
    // Symmetric weights have a zero point of 0 everywhere: one scalar says the same and keeps kernels simple.
    const zeroPoints = weight.zeroPoints.every((zero) => zero === weight.zeroPoints[0])
      ? weight.zeroPoints.subarray(0, 1)
      : weight.zeroPoints;
    const tensors: TensorProto[] = [
      {
        name: names.values,
        dims: [rows, columns],
        dataType: weightDataType,
        rawData: bytesOf(weight.values),
      },
      {
        name: names.scale,
        dims: perColumn ? [columns] : [],
        dataType: TensorDataType.FLOAT,
        rawData: float32RawData(weight.scales),
      },
      {
        name: names.zeroPoint,
        dims: zeroPoints.length > 1 ? [columns] : [],
        dataType: weightDataType,
        rawData: bytesOf(zeroPoints),
      },
    ];
    summary.floatWeightBytes += tensor.rawData?.byteLength ?? 0;
    summary.quantizedWeightBytes += tensors.reduce((sum, part) => sum + (part.rawData?.byteLength ?? 0), 0);
    const entry = { ...names, tensors };
    quantizedWeights.set(tensor.name, entry);
    return entry;
  };

  /**
   * The Add that applies this MatMul's bias, when the MatMul's output goes nowhere else and the other operand
   * is a constant float vector as long as the weight is wide.
   */
  const biasAddOf = (matMul: NodeProto, columns: number) => {
    const output = matMul.outputs[0];
    const users = consumers.get(output) ?? [];
    if (users.length !== 1 || graphOutputs.has(output)) return undefined;
    const [add] = users;
    if (add.opType !== 'Add' || !isDefaultDomain(add.domain) || add.inputs.length !== 2) return undefined;
    const bias = constantFloat(add.inputs[0] === output ? add.inputs[1] : add.inputs[0]);
    if (!bias || bias.dims.length !== 1 || bias.dims[0] !== columns || add.inputs[0] === add.inputs[1])
      return undefined;
    return { add, bias: bias.name };
  };

  const nodes: NodeProto[] = [];
  /** Nodes rewritten or dropped because of a quantized MatMul before them, by their identity. */
  const replacements = new Map<NodeProto, NodeProto | null>();
  const dynamicQuantized = new Map<string, { values: string; scale: string; zeroPoint: string }>();

  for (const node of graph.nodes) {
    if (replacements.has(node)) {
      const replacement = replacements.get(node);
      if (replacement) nodes.push(replacement);
      continue;
    }
    if (node.opType !== 'MatMul' || !isDefaultDomain(node.domain) || node.inputs.length !== 2) {
      nodes.push(node);
      continue;
    }
    const reason = skipReason(node);
    const label = node.name || node.outputs[0];
    if (reason) {
      summary.skipped.push({ node: label, reason });
      nodes.push(node);
      continue;
    }
    const [activation, weightName] = node.inputs;
    const weightTensor = initializers.get(weightName) as TensorProto;
    const weight = quantizeInitializer(weightTensor);
    const biasAdd = biasAddOf(node, weightTensor.dims[1]);
    const base = label.replace(/\/MatMul$/, '');
    summary.quantized.push(label);

    if (operator === 'DynamicQuantizeMatMul') {
      const inputs = [activation, weight.values, weight.scale, weight.zeroPoint];
      if (biasAdd) {
        inputs.push(biasAdd.bias);
        replacements.set(biasAdd.add, null);
      }
      nodes.push({
        name: unique(`${label}_quant`),
        opType: 'DynamicQuantizeMatMul',
        domain: MS_DOMAIN,
        inputs,
        outputs: biasAdd ? biasAdd.add.outputs : node.outputs,
      });
      continue;
    }

    let quantizedActivation = dynamicQuantized.get(activation);
    if (!quantizedActivation) {
      quantizedActivation = {
        values: unique(`${activation}_quantized`),
        scale: unique(`${activation}_scale`),
        zeroPoint: unique(`${activation}_zero_point`),
      };
      dynamicQuantized.set(activation, quantizedActivation);
      nodes.push({
        name: unique(`${activation}_QuantizeLinear`),
        opType: 'DynamicQuantizeLinear',
        inputs: [activation],
        outputs: [quantizedActivation.values, quantizedActivation.scale, quantizedActivation.zeroPoint],
      });
    }
    const product = unique(`${node.outputs[0]}_quantized`);
    const productAsFloat = unique(`${product}_cast_output`);
    const scales = unique(`${product}_scales_mul_output`);
    // onnxruntime fuses MatMulInteger -> Cast -> Mul(Mul(a_scale, b_scale)) [-> Add(x, bias)] into one
    // MatMulIntegerToFloat when the scales are in that order and the bias is the Add's second operand.
    nodes.push(
      {
        name: unique(`${base}/MatMulInteger`),
        opType: 'MatMulInteger',
        inputs: [quantizedActivation.values, weight.values, quantizedActivation.zeroPoint, weight.zeroPoint],
        outputs: [product],
      },
      {
        name: unique(`${base}/Cast`),
        opType: 'Cast',
        inputs: [product],
        outputs: [productAsFloat],
        attributes: [{ name: 'to', type: 'int', value: TensorDataType.FLOAT }],
      },
      {
        name: unique(`${base}/ScalesMul`),
        opType: 'Mul',
        inputs: [quantizedActivation.scale, weight.scale],
        outputs: [scales],
      },
      {
        name: unique(`${base}/OutputMul`),
        opType: 'Mul',
        inputs: [productAsFloat, scales],
        outputs: node.outputs,
      },
    );
    if (biasAdd && biasAdd.add.inputs[0] === biasAdd.bias) {
      replacements.set(biasAdd.add, {
        ...biasAdd.add,
        inputs: [biasAdd.add.inputs[1], biasAdd.add.inputs[0]],
      });
    }
  }

  // A float weight goes once nothing reads it any more. A subgraph could read it by name without the reader
  // seeing it, so a model with subgraphs keeps them all.
  const hasSubgraphs = graph.nodes.some((node) =>
    node.attributes?.some(
      (attribute) =>
        attribute.type === 'other' &&
        (attribute.attributeType === AttributeType.GRAPH || attribute.attributeType === AttributeType.GRAPHS),
    ),
  );
  const stillRead = new Set([...nodes.flatMap((node) => node.inputs), ...graphOutputs]);
  const removed = new Set(
    [...quantizedWeights.keys()].filter((name) => !hasSubgraphs && !stillRead.has(name)),
  );
  const newInitializers = graph.initializers.flatMap((tensor) => {
    const quantized = quantizedWeights.get(tensor.name)?.tensors ?? [];
    return removed.has(tensor.name) ? quantized : [tensor, ...quantized];
  });

  const opsetImports =
    operator === 'DynamicQuantizeMatMul' &&
    summary.quantized.length > 0 &&
    !model.opsetImports.some((opset) => opset.domain === MS_DOMAIN)
      ? [...model.opsetImports, { domain: MS_DOMAIN, version: 1 }]
      : model.opsetImports;

  return {
    model: {
      ...model,
      opsetImports,
      graph: {
        ...graph,
        nodes,
        initializers: newInitializers,
        // Models from before IR 4 list initializers among the inputs too.
        inputs: graph.inputs.filter((input) => !removed.has(input.name)),
      },
    },
    summary,
  };
}

function bytesOf(values: Int8Array | Uint8Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/** Reads an fp32 ONNX file, quantizes it and writes the result atomically (temporary file, then rename). */
export async function quantizeModelFile(
  inputPath: string,
  outputPath: string,
  options: QuantizeOptions = {},
): Promise<QuantizationSummary & { bytes: number }> {
  const { model, summary } = quantizeModel(await readModelFile(inputPath), options);
  if (summary.quantized.length === 0) {
    throw new Error(`${inputPath} has no MatMul with a constant 2-D float weight to quantize`);
  }
  const bytes = await writeModelFile(outputPath, model);
  return { ...summary, bytes };
}

/** The Hub layout: onnx/model.onnx beside onnx/model_quantized.onnx, or both at the top. */
export function modelPaths(modelDir: string): { fp32: string; int8: string } {
  const candidates = [join(modelDir, 'onnx', 'model.onnx'), join(modelDir, 'model.onnx')];
  const fp32 = candidates.find((path) => existsSync(path));
  if (!fp32) throw new Error(`${modelDir} has no fp32 model (looked for ${candidates.join(', ')})`);
  return { fp32, int8: join(dirname(fp32), 'model_quantized.onnx') };
}
