/**
 * The ONNX graph of RobertaForSequenceClassification (eval mode), laid out like the optimum export of
 * cardiffnlp/twitter-roberta-base-sentiment-latest: same inputs, output, operators and tensor shapes,
 * with seeded random weights.
 */
import {
  float32RawData,
  int64RawData,
  TensorDataType,
  type AttributeProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from '@reputation-monitor/onnx-graph';
import type { RobertaDimensions } from './presets';
import { NormalSampler } from './random';

export const NUM_LABELS = 3;
export const PAD_TOKEN_ID = 1;
export const LAYER_NORM_EPS = 1e-5;
/** HF's `initializer_range`, used for the embedding tables. */
const EMBEDDING_STD = 0.02;
/** torch.finfo(torch.float32).min, which HF adds to the scores of masked positions. */
const FLOAT32_MIN = -3.4028234663852886e38;

const IR_VERSION = 8;
const OPSET_VERSION = 17;

/** The classifier's last layer, hidden → labels; `weight` is [hidden, NUM_LABELS], row-major. */
export interface OutputProjection {
  weight: Float32Array;
  bias: Float32Array;
}

export interface RobertaGraph {
  /** The network up to the tanh of the head; its output `pooled` is [batch_size, hidden]. */
  pooledModel: ModelProto;
  /** A seeded random out_proj weight, for the caller to rescale once it has seen the pooled features. */
  initialOutputProjection: Float32Array;
  /** The complete classifier with output `logits` [batch_size, 3]. */
  classifierModel(outputProjection: OutputProjection): ModelProto;
  /** Float parameters of the complete classifier. */
  parameterCount: number;
}

/** Accumulates nodes and initializers; every node has one output, named after the node by default. */
class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];

  node(
    opType: string,
    name: string,
    inputs: string[],
    attributes: AttributeProto[] = [],
    output = `${name}_output_0`,
  ): string {
    this.nodes.push({ name, opType, inputs, outputs: [output], attributes });
    return output;
  }

  /** Small constants are Constant nodes, as in the torch export; weights are initializers. */
  int64Constant(name: string, dims: number[], values: number[]): string {
    return this.constant(name, { name, dims, dataType: TensorDataType.INT64, rawData: int64RawData(values) });
  }

  floatConstant(name: string, value: number): string {
    const rawData = float32RawData(Float32Array.of(value));
    return this.constant(name, { name, dims: [], dataType: TensorDataType.FLOAT, rawData });
  }

  weight(name: string, dims: number[], values: Float32Array): string {
    this.initializers.push({ name, dims, dataType: TensorDataType.FLOAT, rawData: float32RawData(values) });
    return name;
  }

  /** x @ W + b with W stored [in, out], as the export transposes torch's Linear weight. */
  linear(scope: string, input: string, weight: Float32Array, bias: Float32Array, output?: string): string {
    const weightName = this.weight(`${scope}.weight`, [weight.length / bias.length, bias.length], weight);
    const biasName = this.weight(`${scope}.bias`, [bias.length], bias);
    const product = this.node('MatMul', `/${scope}/MatMul`, [input, weightName]);
    return this.node('Add', `/${scope}/Add`, [biasName, product], [], output);
  }

  /** A copy that shares the (large) tensors, so a graph can be extended in two ways. */
  fork(): GraphBuilder {
    const copy = new GraphBuilder();
    copy.nodes.push(...this.nodes);
    copy.initializers.push(...this.initializers);
    return copy;
  }

  toModel(inputs: ValueInfoProto[], outputs: ValueInfoProto[]): ModelProto {
    return {
      irVersion: IR_VERSION,
      opsetImports: [{ domain: '', version: OPSET_VERSION }],
      producerName: 'synthetic-model',
      producerVersion: '1.0.0',
      graph: { name: 'main_graph', nodes: this.nodes, initializers: this.initializers, inputs, outputs },
    };
  }

  private constant(name: string, value: TensorProto): string {
    return this.node('Constant', name, [], [{ name: 'value', type: 'tensor', value }]);
  }
}

/**
 * Builds the network. Weights are drawn in a fixed order from one seeded stream, so the same dimensions
 * and seed always give the same tensors.
 *
 * Dense layers use std 1/sqrt(fan_in) rather than HF's 0.02: with 0.02 a random encoder is close to the
 * identity on each token, so the <s> state that the head reads hardly depends on the text. Scaled weights
 * carry the text into it, as training does. The amount of compute is the same either way.
 */
export function buildRobertaGraph(dimensions: RobertaDimensions, seed: number): RobertaGraph {
  const { hiddenSize, numAttentionHeads, intermediateSize } = dimensions;
  const headSize = hiddenSize / numAttentionHeads;
  const graph = new GraphBuilder();
  const sampler = new NormalSampler(seed);

  const constants = {
    padTokenId: graph.int64Constant('/constants/pad_token_id', [], [PAD_TOKEN_ID]),
    sequenceAxis: graph.int64Constant('/constants/sequence_axis', [], [1]),
    firstToken: graph.int64Constant('/constants/first_token', [], [0]),
    maskAxes: graph.int64Constant('/constants/mask_axes', [2], [1, 2]),
    // Reshape copies a 0 from the input shape, so these work for any batch size and sequence length.
    headsShape: graph.int64Constant('/constants/heads_shape', [4], [0, 0, numAttentionHeads, headSize]),
    hiddenShape: graph.int64Constant('/constants/hidden_shape', [3], [0, 0, hiddenSize]),
    one: graph.floatConstant('/constants/one', 1),
    half: graph.floatConstant('/constants/half', 0.5),
    sqrtTwo: graph.floatConstant('/constants/sqrt_two', Math.SQRT2),
    sqrtHeadSize: graph.floatConstant('/constants/sqrt_head_size', Math.sqrt(headSize)),
    float32Min: graph.floatConstant('/constants/float32_min', FLOAT32_MIN),
  };

  const dense = (scope: string, input: string, inFeatures: number, outFeatures: number) =>
    graph.linear(
      scope,
      input,
      sampler.sample(inFeatures * outFeatures, 1 / Math.sqrt(inFeatures)),
      new Float32Array(outFeatures),
    );

  const layerNorm = (scope: string, input: string) => {
    const gamma = graph.weight(`${scope}.weight`, [hiddenSize], new Float32Array(hiddenSize).fill(1));
    const beta = graph.weight(`${scope}.bias`, [hiddenSize], new Float32Array(hiddenSize));
    return graph.node(
      'LayerNormalization',
      `/${scope}/LayerNormalization`,
      [input, gamma, beta],
      [
        { name: 'axis', type: 'int', value: -1 },
        { name: 'epsilon', type: 'float', value: LAYER_NORM_EPS },
      ],
    );
  };

  /** HF initialisation: Normal(0, initializer_range) with the padding row zeroed. */
  const embeddingTable = (name: string, rows: number) => {
    const values = sampler.sample(rows * hiddenSize, EMBEDDING_STD);
    values.fill(0, PAD_TOKEN_ID * hiddenSize, (PAD_TOKEN_ID + 1) * hiddenSize);
    return graph.weight(name, [rows, hiddenSize], values);
  };

  // Position ids, as HF's create_position_ids_from_input_ids: count real tokens (id != <pad>) from the
  // left and offset by padding_idx, so the first token gets position 2 and padding keeps position 1.
  const isPadding = graph.node('Equal', '/roberta/embeddings/Equal', ['input_ids', constants.padTokenId]);
  const isToken = graph.node('Not', '/roberta/embeddings/Not', [isPadding]);
  const tokenMask = graph.node(
    'Cast',
    '/roberta/embeddings/Cast',
    [isToken],
    [{ name: 'to', type: 'int', value: TensorDataType.INT64 }],
  );
  const tokenCount = graph.node('CumSum', '/roberta/embeddings/CumSum', [tokenMask, constants.sequenceAxis]);
  const maskedCount = graph.node('Mul', '/roberta/embeddings/Mul', [tokenCount, tokenMask]);
  const positionIds = graph.node('Add', '/roberta/embeddings/Add', [maskedCount, constants.padTokenId]);

  const wordTable = embeddingTable('roberta.embeddings.word_embeddings.weight', dimensions.vocabSize);
  const positionTable = embeddingTable(
    'roberta.embeddings.position_embeddings.weight',
    dimensions.maxPositionEmbeddings,
  );
  // type_vocab_size is 1 and token_type_ids are always 0, so the single row is added to every token.
  const tokenTypeRow = graph.weight(
    'roberta.embeddings.token_type_embeddings.weight',
    [1, hiddenSize],
    sampler.sample(hiddenSize, EMBEDDING_STD),
  );
  const wordEmbeddings = graph.node('Gather', '/roberta/embeddings/word_embeddings/Gather', [
    wordTable,
    'input_ids',
  ]);
  const positionEmbeddings = graph.node('Gather', '/roberta/embeddings/position_embeddings/Gather', [
    positionTable,
    positionIds,
  ]);
  const withTokenType = graph.node('Add', '/roberta/embeddings/Add_1', [wordEmbeddings, tokenTypeRow]);
  const embeddingSum = graph.node('Add', '/roberta/embeddings/Add_2', [withTokenType, positionEmbeddings]);
  let hidden = layerNorm('roberta.embeddings.LayerNorm', embeddingSum);

  // Extended attention mask [B, 1, 1, S]: 0 where attended, float32 min where masked.
  const maskAsFloat = graph.node(
    'Cast',
    '/roberta/extended_mask/Cast',
    ['attention_mask'],
    [{ name: 'to', type: 'int', value: TensorDataType.FLOAT }],
  );
  const maskUnsqueezed = graph.node('Unsqueeze', '/roberta/extended_mask/Unsqueeze', [
    maskAsFloat,
    constants.maskAxes,
  ]);
  const maskInverted = graph.node('Sub', '/roberta/extended_mask/Sub', [constants.one, maskUnsqueezed]);
  const maskBias = graph.node('Mul', '/roberta/extended_mask/Mul', [maskInverted, constants.float32Min]);

  /** [B, S, hidden] → [B, heads, S, head_size] (or [B, heads, head_size, S] with perm 0,2,3,1). */
  const projectHeads = (scope: string, input: string, perm: number[]) => {
    const projected = dense(scope, input, hiddenSize, hiddenSize);
    const reshaped = graph.node('Reshape', `/${scope}/Reshape`, [projected, constants.headsShape]);
    return graph.node(
      'Transpose',
      `/${scope}/Transpose`,
      [reshaped],
      [{ name: 'perm', type: 'ints', value: perm }],
    );
  };

  for (let layer = 0; layer < dimensions.numHiddenLayers; layer++) {
    const scope = `roberta.encoder.layer.${layer}`;
    const self = `${scope}.attention.self`;

    const query = projectHeads(`${self}.query`, hidden, [0, 2, 1, 3]);
    // Keys are transposed to [B, heads, head_size, S] so that Q @ K needs no further transpose.
    const key = projectHeads(`${self}.key`, hidden, [0, 2, 3, 1]);
    const value = projectHeads(`${self}.value`, hidden, [0, 2, 1, 3]);

    const scores = graph.node('MatMul', `/${self}/MatMul`, [query, key]);
    const scaledScores = graph.node('Div', `/${self}/Div`, [scores, constants.sqrtHeadSize]);
    const maskedScores = graph.node('Add', `/${self}/Add`, [scaledScores, maskBias]);
    const probabilities = graph.node(
      'Softmax',
      `/${self}/Softmax`,
      [maskedScores],
      [{ name: 'axis', type: 'int', value: -1 }],
    );
    const context = graph.node('MatMul', `/${self}/MatMul_1`, [probabilities, value]);
    const contextByToken = graph.node(
      'Transpose',
      `/${self}/Transpose`,
      [context],
      [{ name: 'perm', type: 'ints', value: [0, 2, 1, 3] }],
    );
    const contextHidden = graph.node('Reshape', `/${self}/Reshape`, [contextByToken, constants.hiddenShape]);

    const attentionDense = dense(`${scope}.attention.output.dense`, contextHidden, hiddenSize, hiddenSize);
    const attentionResidual = graph.node('Add', `/${scope}.attention.output/Add`, [attentionDense, hidden]);
    const attentionOutput = layerNorm(`${scope}.attention.output.LayerNorm`, attentionResidual);

    const intermediate = dense(`${scope}.intermediate.dense`, attentionOutput, hiddenSize, intermediateSize);
    // Exact (erf) GELU, 0.5 * x * (1 + erf(x / sqrt 2)), in the node order of the torch export.
    const gelu = `/${scope}.intermediate.intermediate_act_fn`;
    const scaled = graph.node('Div', `${gelu}/Div`, [intermediate, constants.sqrtTwo]);
    const erf = graph.node('Erf', `${gelu}/Erf`, [scaled]);
    const erfPlusOne = graph.node('Add', `${gelu}/Add`, [erf, constants.one]);
    const gated = graph.node('Mul', `${gelu}/Mul`, [intermediate, erfPlusOne]);
    const activated = graph.node('Mul', `${gelu}/Mul_1`, [gated, constants.half]);

    const outputDense = dense(`${scope}.output.dense`, activated, intermediateSize, hiddenSize);
    const outputResidual = graph.node('Add', `/${scope}.output/Add`, [outputDense, attentionOutput]);
    hidden = layerNorm(`${scope}.output.LayerNorm`, outputResidual);
  }

  // Classification head on the <s> token: dense, tanh, then out_proj (added by classifierModel).
  const firstToken = graph.node(
    'Gather',
    '/classifier/Gather',
    [hidden, constants.firstToken],
    [{ name: 'axis', type: 'int', value: 1 }],
  );
  const headDense = dense('classifier.dense', firstToken, hiddenSize, hiddenSize);
  const pooled = graph.node('Tanh', '/classifier/Tanh', [headDense], [], 'pooled');

  const batchBySequence = ['batch_size', 'sequence_length'];
  const inputs: ValueInfoProto[] = [
    { name: 'input_ids', elemType: TensorDataType.INT64, shape: batchBySequence },
    { name: 'attention_mask', elemType: TensorDataType.INT64, shape: batchBySequence },
  ];
  const encoderParameterCount = graph.initializers.reduce(
    (count, tensor) => count + tensor.dims.reduce((product, dim) => product * dim, 1),
    0,
  );

  return {
    pooledModel: graph.toModel(inputs, [
      { name: pooled, elemType: TensorDataType.FLOAT, shape: ['batch_size', hiddenSize] },
    ]),
    initialOutputProjection: sampler.sample(hiddenSize * NUM_LABELS, 1 / Math.sqrt(hiddenSize)),
    classifierModel({ weight, bias }) {
      const classifier = graph.fork();
      classifier.linear('classifier.out_proj', pooled, weight, bias, 'logits');
      return classifier.toModel(inputs, [
        { name: 'logits', elemType: TensorDataType.FLOAT, shape: ['batch_size', NUM_LABELS] },
      ]);
    },
    parameterCount: encoderParameterCount + (hiddenSize + 1) * NUM_LABELS,
  };
}
