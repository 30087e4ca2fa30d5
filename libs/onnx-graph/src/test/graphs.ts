/** Small graphs and seeded data for this library's specs (a library cannot use the synthetic-model tool). */
import { InferenceSession, Tensor } from 'onnxruntime-node';
import {
  encodeModel,
  float32RawData,
  TensorDataType,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from '../onnx-proto';

/** Seeded Normal(0, std) samples: mulberry32 feeding Box-Muller, so a seed always gives the same values. */
export class SeededNormal {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  sample(length: number, std: number): Float32Array {
    const values = new Float32Array(length);
    const uniform = () => {
      this.state = (this.state + 0x6d2b79f5) | 0;
      let t = Math.imul(this.state ^ (this.state >>> 15), this.state | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    for (let index = 0; index < length; index++) {
      values[index] = std * Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
    }
    return values;
  }
}

export const floatTensor = (name: string, dims: number[], values: Float32Array): TensorProto => ({
  name,
  dims,
  dataType: TensorDataType.FLOAT,
  rawData: float32RawData(values),
});

/** The same tensor with its values in float_data (packed), as some protobuf writers store them. */
export function withFloatData(tensor: TensorProto): TensorProto {
  const bytes = Buffer.from(tensor.rawData ?? []);
  const length: number[] = [];
  for (let remaining = bytes.length; ; remaining >>>= 7) {
    if (remaining < 0x80) {
      length.push(remaining);
      break;
    }
    length.push((remaining & 0x7f) | 0x80);
  }
  const floatData = Buffer.concat([Uint8Array.of(4 * 8 + 2, ...length), bytes]); // field 4, length-delimited
  return { name: tensor.name, dims: tensor.dims, dataType: tensor.dataType, unknownFields: [floatData] };
}

/** How the test graph computes its logits from the features. */
export type HeadVariant =
  | 'matmul-then-bias' // Add(MatMul(x, W), b)
  | 'bias-then-matmul' // Add(b, MatMul(x, W)): the torch / optimum export and the synthetic generator
  | 'gemm' // Gemm(x, W, b), W [in, out]
  | 'gemm-transposed'; // Gemm(x, W, b, transB=1), W [out, in]

export const INPUT_SIZE = 5;
export const FEATURE_SIZE = 8;
export const LABEL_COUNT = 3;

export interface ClassifierGraph {
  model: ModelProto;
  /** The head's parameters in canonical [FEATURE_SIZE, LABEL_COUNT] layout. */
  weight: Float32Array;
  bias: Float32Array;
}

/**
 * input [n, 5] -> dense + tanh -> `pooled` [n, 8] -> head -> `logits` [n, 3]: the shape of RoBERTa's
 * classification head, small enough to check by hand.
 */
export function classifierGraph(variant: HeadVariant, seed = 1, batchDim = 'batch_size'): ClassifierGraph {
  const sampler = new SeededNormal(seed);
  const weight = sampler.sample(FEATURE_SIZE * LABEL_COUNT, 0.5);
  const bias = sampler.sample(LABEL_COUNT, 0.5);
  const storedWeight =
    variant === 'gemm-transposed'
      ? floatTensor('classifier.out_proj.weight', [LABEL_COUNT, FEATURE_SIZE], transposed(weight))
      : floatTensor('onnx::MatMul_1234', [FEATURE_SIZE, LABEL_COUNT], weight);
  const head: NodeProto[] =
    variant === 'gemm' || variant === 'gemm-transposed'
      ? [
          {
            name: '/classifier/out_proj/Gemm',
            opType: 'Gemm',
            inputs: ['pooled', storedWeight.name, 'classifier.out_proj.bias'],
            outputs: ['logits'],
            attributes: [
              { name: 'alpha', type: 'float', value: 1 },
              { name: 'beta', type: 'float', value: 1 },
              { name: 'transB', type: 'int', value: variant === 'gemm-transposed' ? 1 : 0 },
            ],
          },
        ]
      : [
          {
            name: '/classifier/out_proj/MatMul',
            opType: 'MatMul',
            inputs: ['pooled', storedWeight.name],
            outputs: ['/classifier/out_proj/MatMul_output_0'],
          },
          {
            name: '/classifier/out_proj/Add',
            opType: 'Add',
            inputs:
              variant === 'bias-then-matmul'
                ? ['classifier.out_proj.bias', '/classifier/out_proj/MatMul_output_0']
                : ['/classifier/out_proj/MatMul_output_0', 'classifier.out_proj.bias'],
            outputs: ['logits'],
          },
        ];
  const model: ModelProto = {
    irVersion: 8,
    opsetImports: [{ domain: '', version: 17 }],
    producerName: 'test',
    producerVersion: '1',
    graph: {
      name: 'classifier',
      nodes: [
        {
          name: '/dense/MatMul',
          opType: 'MatMul',
          inputs: ['input', 'dense.weight'],
          outputs: ['dense_product'],
        },
        {
          name: '/dense/Add',
          opType: 'Add',
          inputs: ['dense.bias', 'dense_product'],
          outputs: ['dense_output'],
        },
        { name: '/dense/Tanh', opType: 'Tanh', inputs: ['dense_output'], outputs: ['pooled'] },
        ...head,
      ],
      initializers: [
        floatTensor(
          'dense.weight',
          [INPUT_SIZE, FEATURE_SIZE],
          sampler.sample(INPUT_SIZE * FEATURE_SIZE, 0.6),
        ),
        floatTensor('dense.bias', [FEATURE_SIZE], sampler.sample(FEATURE_SIZE, 0.1)),
        storedWeight,
        floatTensor('classifier.out_proj.bias', [LABEL_COUNT], bias),
      ],
      inputs: [{ name: 'input', elemType: TensorDataType.FLOAT, shape: [batchDim, INPUT_SIZE] }],
      outputs: [{ name: 'logits', elemType: TensorDataType.FLOAT, shape: [batchDim, LABEL_COUNT] }],
    },
  };
  return { model, weight, bias };
}

/** [FEATURE_SIZE, LABEL_COUNT] as [LABEL_COUNT, FEATURE_SIZE]. */
export function transposed(weight: Float32Array): Float32Array {
  return Float32Array.from({ length: weight.length }, (_, index) => {
    const [label, feature] = [Math.floor(index / FEATURE_SIZE), index % FEATURE_SIZE];
    return weight[feature * LABEL_COUNT + label];
  });
}

/** features @ weight + bias, row by row, in float64. */
export function linear(features: Float32Array, weight: Float32Array, bias: Float32Array): Float64Array {
  const rows = features.length / FEATURE_SIZE;
  const result = new Float64Array(rows * LABEL_COUNT);
  for (let row = 0; row < rows; row++) {
    for (let label = 0; label < LABEL_COUNT; label++) {
      let sum = bias[label];
      for (let feature = 0; feature < FEATURE_SIZE; feature++) {
        sum += features[row * FEATURE_SIZE + feature] * weight[feature * LABEL_COUNT + label];
      }
      result[row * LABEL_COUNT + label] = sum;
    }
  }
  return result;
}

/** Serializes the model, loads it in ONNX Runtime and runs it once on `input` [rows, INPUT_SIZE]. */
export async function runModel(
  model: ModelProto,
  input: Float32Array,
): Promise<Record<string, Float32Array>> {
  const session = await InferenceSession.create(new Uint8Array(Buffer.concat(encodeModel(model))));
  try {
    const outputs = await session.run({
      input: new Tensor('float32', input, [input.length / INPUT_SIZE, INPUT_SIZE]),
    });
    return Object.fromEntries(
      Object.entries(outputs).map(([name, tensor]) => [name, tensor.data as Float32Array]),
    );
  } finally {
    await session.release();
  }
}
