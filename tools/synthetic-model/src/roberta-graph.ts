/**
 * The ONNX graph of RobertaForSequenceClassification (eval mode) as `torch.onnx.export` writes it when optimum
 * exports cardiffnlp/twitter-roberta-base-sentiment-latest: same inputs, output, operators, node order and
 * tensor shapes, with seeded random weights. ONNX Runtime fuses a graph by matching node patterns, so the
 * layout decides which fused kernels a benchmark measures (docs/adr/0005-representative-synthetic-graph.md):
 * this one follows the export node for node, shape computations included.
 *
 * What the exporter writes, and this builder with it:
 * - position ids from a cumulative sum over `input_ids != <pad>` (int32 casts, `+ 0` for the past length);
 * - token type ids sliced from the all-zero buffer and expanded to the batch, then a Gather like the others;
 * - every Linear on [batch, sequence, features] as MatMul (weight stored [in, out]) then Add(bias, product);
 *   the two Linears of the head, on [batch, features], as Gemm with transB 1 (weight stored [out, in]);
 * - Reshape targets computed from Shape → Gather → Unsqueeze → Concat, as `x.size()[:-1] + (heads, size)`;
 * - LayerNorm decomposed into ReduceMean … Div, Mul, Add below opset 17, a LayerNormalization node from 17;
 * - exact GELU as Div(√2) → Erf → Add(1) → Mul(x) → Mul(0.5);
 * - attention as transformers' eager code (`attention: 'eager'`: Div by √head_size, mask (1 - m) · min) or as
 *   torch's export of scaled_dot_product_attention (`'sdpa'`, optimum ≥ 1.17 at opset 14: Q and K each scaled
 *   by a computed fourth root, mask through Where).
 */
import {
  float32RawData,
  int32RawData,
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
/** Slice's "to the end". */
const INT64_MAX = 9223372036854775807n;

const IR_VERSION = 8;

export type AttentionLayout = 'eager' | 'sdpa';

/** Which export the graph reproduces. */
export interface GraphLayout {
  /**
   * The ONNX opset of the export: 11 was optimum's default for RoBERTa until 2024 (the Xenova conversions of
   * 2023), 14 is its default since; from 17 torch writes LayerNormalization nodes.
   */
  opset: number;
  attention: AttentionLayout;
}

/**
 * The layout of the optimum/Xenova export of the real model: opset 11, transformers' eager attention
 * (docs/adr/0005-representative-synthetic-graph.md says why).
 */
export const DEFAULT_LAYOUT: Readonly<GraphLayout> = { opset: 11, attention: 'eager' };

/** The opsets this builder writes: DynamicQuantizeLinear (the int8 graph) needs 11, Slice with inputs 10. */
export const SUPPORTED_OPSETS = [11, 12, 13, 14, 15, 16, 17] as const;

/** The classifier's last layer, hidden → labels; `weight` is [hidden, NUM_LABELS], row-major. */
export interface OutputProjection {
  weight: Float32Array;
  bias: Float32Array;
}

export interface RobertaGraph {
  /** The network up to the tanh of the head; its output `pooled` is [batch_size, hidden]. */
  pooledModel: ModelProto;
  /** A seeded random out_proj weight, [hidden, NUM_LABELS], for the caller to rescale once it has seen the pooled features. */
  initialOutputProjection: Float32Array;
  /** The complete classifier with output `logits` [batch_size, 3]. */
  classifierModel(outputProjection: OutputProjection): ModelProto;
  /** Float parameters of the complete classifier. */
  parameterCount: number;
  layout: GraphLayout;
}

const intsAttribute = (name: string, value: readonly number[]): AttributeProto => ({
  name,
  type: 'ints',
  value,
});
const intAttribute = (name: string, value: number): AttributeProto => ({ name, type: 'int', value });
const castTo = (dataType: number) => [intAttribute('to', dataType)];

/** [rows, columns] row-major → [columns, rows] row-major. */
function transposed(values: Float32Array, rows: number, columns: number): Float32Array {
  const result = new Float32Array(values.length);
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++)
      result[column * rows + row] = values[row * columns + column];
  }
  return result;
}

/**
 * Accumulates nodes and initializers. Every node has one output, named `<node>_output_0` as torch names them;
 * node names get torch's `_1`, `_2` … suffixes when a scope repeats an operator.
 */
class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly taken = new Map<string, number>();

  constructor(readonly opset: number) {}

  node(
    opType: string,
    scope: string,
    inputs: string[],
    attributes: AttributeProto[] = [],
    output?: string,
  ): string {
    const base = `${scope}/${opType}`;
    const count = this.taken.get(base) ?? 0;
    this.taken.set(base, count + 1);
    const name = count === 0 ? base : `${base}_${count}`;
    const outputName = output ?? `${name}_output_0`;
    this.nodes.push({ name, opType, inputs, outputs: [outputName], attributes });
    return outputName;
  }

  /** Small constants are Constant nodes, as in the torch export; weights are initializers. */
  constant(scope: string, tensor: Omit<TensorProto, 'name'>): string {
    const output = this.node(
      'Constant',
      scope,
      [],
      [{ name: 'value', type: 'tensor', value: { name: '', ...tensor } }],
    );
    return output;
  }

  int64(scope: string, values: number[], dims: number[] = [values.length]): string {
    return this.constant(scope, { dims, dataType: TensorDataType.INT64, rawData: int64RawData(values) });
  }

  int64Scalar(scope: string, value: number): string {
    return this.int64(scope, [value], []);
  }

  /** A 1-D int64 constant beyond 2^53 (INT64_MAX as Slice's "to the end"). */
  int64Big(scope: string, value: bigint): string {
    const rawData = Buffer.alloc(8);
    rawData.writeBigInt64LE(value);
    return this.constant(scope, { dims: [1], dataType: TensorDataType.INT64, rawData });
  }

  float(scope: string, value: number, dims: number[] = []): string {
    return this.constant(scope, {
      dims,
      dataType: TensorDataType.FLOAT,
      rawData: float32RawData(Float32Array.of(value)),
    });
  }

  weight(name: string, dims: number[], values: Float32Array): string {
    this.initializers.push({ name, dims, dataType: TensorDataType.FLOAT, rawData: float32RawData(values) });
    return name;
  }

  /** Unsqueeze takes its axes as an attribute up to opset 12 and as an input from 13. */
  unsqueeze(scope: string, input: string, axes: number[]): string {
    return this.opset < 13
      ? this.node('Unsqueeze', scope, [input], [intsAttribute('axes', axes)])
      : this.node('Unsqueeze', scope, [input, this.int64(scope, axes)]);
  }

  /** Mean over the last axis, keeping it (axes an input only from opset 18, beyond what this builder writes). */
  reduceMean(scope: string, input: string): string {
    return this.node('ReduceMean', scope, [input], [intsAttribute('axes', [-1])]);
  }

  /** torch writes softmax(dim=-1) of a 4-D tensor with axis 3 before opset 13 (axis then meant "flatten from"). */
  softmax(scope: string, input: string): string {
    return this.node('Softmax', scope, [input], [intAttribute('axis', this.opset < 13 ? 3 : -1)]);
  }

  /** `x.size(index)` as an unsqueezed 1-D value, ready for Concat: Shape → Gather → Unsqueeze. */
  sizeOf(scope: string, input: string, index: number): { scalar: string; vector: string } {
    const shape = this.node('Shape', scope, [input]);
    const scalar = this.node(
      'Gather',
      scope,
      [shape, this.int64Scalar(scope, index)],
      [intAttribute('axis', 0)],
    );
    return { scalar, vector: this.unsqueeze(scope, scalar, [0]) };
  }

  /** x @ W + b on the last axis with W stored [in, out] (the exporter folds torch's transpose of the weight). */
  linear(scope: string, input: string, weight: Float32Array, bias: Float32Array): string {
    const weightName = this.weight(
      `${scope.slice(1).replace(/\//g, '.')}.weight`,
      [weight.length / bias.length, bias.length],
      weight,
    );
    const biasName = this.weight(`${scope.slice(1).replace(/\//g, '.')}.bias`, [bias.length], bias);
    const product = this.node('MatMul', scope, [input, weightName]);
    return this.node('Add', scope, [biasName, product]);
  }

  /** A Linear on [batch, features]: Gemm(x, W, b) with W stored [out, in] and transB 1, as torch writes addmm. */
  gemm(scope: string, input: string, weightInOut: Float32Array, bias: Float32Array, output?: string): string {
    const prefix = scope.slice(1).replace(/\//g, '.');
    const inFeatures = weightInOut.length / bias.length;
    const weightName = this.weight(
      `${prefix}.weight`,
      [bias.length, inFeatures],
      transposed(weightInOut, inFeatures, bias.length),
    );
    const biasName = this.weight(`${prefix}.bias`, [bias.length], bias);
    return this.node(
      'Gemm',
      scope,
      [input, weightName, biasName],
      [
        { name: 'alpha', type: 'float', value: 1 },
        { name: 'beta', type: 'float', value: 1 },
        intAttribute('transB', 1),
      ],
      output,
    );
  }

  /** A copy that shares the (large) tensors, so a graph can be extended in two ways. */
  fork(): GraphBuilder {
    const copy = new GraphBuilder(this.opset);
    copy.nodes.push(...this.nodes);
    copy.initializers.push(...this.initializers);
    for (const [name, count] of this.taken) copy.taken.set(name, count);
    return copy;
  }

  toModel(inputs: ValueInfoProto[], outputs: ValueInfoProto[]): ModelProto {
    return {
      irVersion: IR_VERSION,
      opsetImports: [{ domain: '', version: this.opset }],
      producerName: 'synthetic-model',
      producerVersion: '2.0.0',
      graph: { name: 'main_graph', nodes: this.nodes, initializers: this.initializers, inputs, outputs },
    };
  }
}

/** Throws for a layout this builder cannot write. */
export function checkLayout(layout: GraphLayout): void {
  if (!(SUPPORTED_OPSETS as readonly number[]).includes(layout.opset)) {
    throw new Error(`opset must be one of ${SUPPORTED_OPSETS.join(', ')}, got ${layout.opset}`);
  }
  if (layout.attention !== 'eager' && layout.attention !== 'sdpa') {
    throw new Error(`attention must be eager or sdpa, got "${String(layout.attention)}"`);
  }
  if (layout.attention === 'sdpa' && layout.opset < 14) {
    throw new Error('torch exports scaled_dot_product_attention from opset 14');
  }
}

/**
 * Builds the network. Weights are drawn in a fixed order from one seeded stream, so the same dimensions
 * and seed always give the same tensors, whatever the layout.
 *
 * Dense layers use std 1/sqrt(fan_in) rather than HF's 0.02: with 0.02 a random encoder is close to the
 * identity on each token, so the <s> state that the head reads hardly depends on the text. Scaled weights
 * carry the text into it, as training does. The amount of compute is the same either way.
 */
export function buildRobertaGraph(
  dimensions: RobertaDimensions,
  seed: number,
  layout: GraphLayout = DEFAULT_LAYOUT,
): RobertaGraph {
  checkLayout(layout);
  const { hiddenSize, numAttentionHeads, intermediateSize } = dimensions;
  const headSize = hiddenSize / numAttentionHeads;
  const graph = new GraphBuilder(layout.opset);
  const sampler = new NormalSampler(seed);
  const denseWeight = (inFeatures: number, outFeatures: number) =>
    sampler.sample(inFeatures * outFeatures, 1 / Math.sqrt(inFeatures));
  const dense = (scope: string, input: string, inFeatures: number, outFeatures: number) =>
    graph.linear(scope, input, denseWeight(inFeatures, outFeatures), new Float32Array(outFeatures));

  const layerNorm = (scope: string, input: string) => {
    const prefix = scope.slice(1).replace(/\//g, '.');
    const gamma = graph.weight(`${prefix}.weight`, [hiddenSize], new Float32Array(hiddenSize).fill(1));
    const beta = graph.weight(`${prefix}.bias`, [hiddenSize], new Float32Array(hiddenSize));
    if (layout.opset >= 17) {
      return graph.node(
        'LayerNormalization',
        scope,
        [input, gamma, beta],
        [intAttribute('axis', -1), { name: 'epsilon', type: 'float', value: LAYER_NORM_EPS }],
      );
    }
    // torch's native_layer_norm below opset 17.
    const mean = graph.reduceMean(scope, input);
    const centred = graph.node('Sub', scope, [input, mean]);
    const squared = graph.node('Pow', scope, [centred, graph.float(scope, 2)]);
    const variance = graph.reduceMean(scope, squared);
    const shifted = graph.node('Add', scope, [variance, graph.float(scope, LAYER_NORM_EPS)]);
    const deviation = graph.node('Sqrt', scope, [shifted]);
    const normalized = graph.node('Div', scope, [centred, deviation]);
    const scaled = graph.node('Mul', scope, [normalized, gamma]);
    return graph.node('Add', scope, [scaled, beta]);
  };

  /** HF initialisation: Normal(0, initializer_range) with the padding row zeroed. */
  const embeddingTable = (name: string, rows: number) => {
    const values = sampler.sample(rows * hiddenSize, EMBEDDING_STD);
    values.fill(0, PAD_TOKEN_ID * hiddenSize, (PAD_TOKEN_ID + 1) * hiddenSize);
    return graph.weight(name, [rows, hiddenSize], values);
  };

  // Embeddings. Position ids as HF's create_position_ids_from_input_ids: count real tokens (id != <pad>) from
  // the left and offset by padding_idx, so the first token gets position 2 and padding keeps position 1.
  const embeddings = '/roberta/embeddings';
  const isPadding = graph.node('Equal', embeddings, [
    'input_ids',
    graph.int64Scalar(embeddings, PAD_TOKEN_ID),
  ]);
  const isToken = graph.node('Not', embeddings, [isPadding]);
  const tokenMask = graph.node('Cast', embeddings, [isToken], castTo(TensorDataType.INT32));
  const tokenCount = graph.node('CumSum', embeddings, [tokenMask, graph.int64Scalar(embeddings, 1)]);
  const tokenCountInt32 = graph.node('Cast', embeddings, [tokenCount], castTo(TensorDataType.INT32));
  const pastLength = graph.constant(embeddings, {
    dims: [],
    dataType: TensorDataType.INT32,
    rawData: int32RawData([0]),
  });
  const counted = graph.node('Add', embeddings, [tokenCountInt32, pastLength]);
  const maskedCount = graph.node('Mul', embeddings, [counted, tokenMask]);
  const maskedCountInt64 = graph.node('Cast', embeddings, [maskedCount], castTo(TensorDataType.INT64));
  const positionIds = graph.node('Add', embeddings, [
    maskedCountInt64,
    graph.int64Scalar(embeddings, PAD_TOKEN_ID),
  ]);

  // Token type ids: the registered all-zero buffer, sliced to the sequence and expanded to the batch.
  const sequenceLength = graph.sizeOf(embeddings, 'input_ids', 1);
  const batchSize = graph.sizeOf(embeddings, 'input_ids', 0);
  graph.initializers.push({
    name: 'roberta.embeddings.token_type_ids',
    dims: [1, dimensions.maxPositionEmbeddings],
    dataType: TensorDataType.INT64,
    rawData: int64RawData(new Array<number>(dimensions.maxPositionEmbeddings).fill(0)),
  });
  const slicedTokenTypes = graph.node('Slice', embeddings, [
    'roberta.embeddings.token_type_ids',
    graph.int64(embeddings, [0]),
    sequenceLength.vector,
    graph.int64(embeddings, [1]),
    graph.int64(embeddings, [1]),
  ]);
  const expandShape = graph.node(
    'Concat',
    embeddings,
    [batchSize.vector, sequenceLength.vector],
    [intAttribute('axis', 0)],
  );
  const tokenTypeIds = graph.node('Expand', embeddings, [slicedTokenTypes, expandShape]);

  const wordTable = embeddingTable('roberta.embeddings.word_embeddings.weight', dimensions.vocabSize);
  const positionTable = embeddingTable(
    'roberta.embeddings.position_embeddings.weight',
    dimensions.maxPositionEmbeddings,
  );
  // type_vocab_size is 1: one row, which every token gets.
  const tokenTypeTable = graph.weight(
    'roberta.embeddings.token_type_embeddings.weight',
    [1, hiddenSize],
    sampler.sample(hiddenSize, EMBEDDING_STD),
  );
  const wordEmbeddings = graph.node('Gather', `${embeddings}/word_embeddings`, [wordTable, 'input_ids']);
  const tokenTypeEmbeddings = graph.node('Gather', `${embeddings}/token_type_embeddings`, [
    tokenTypeTable,
    tokenTypeIds,
  ]);
  const withTokenType = graph.node('Add', embeddings, [wordEmbeddings, tokenTypeEmbeddings]);
  const positionEmbeddings = graph.node('Gather', `${embeddings}/position_embeddings`, [
    positionTable,
    positionIds,
  ]);
  const embeddingSum = graph.node('Add', embeddings, [withTokenType, positionEmbeddings]);
  let hidden = layerNorm(`${embeddings}/LayerNorm`, embeddingSum);

  // The additive attention mask, [B, 1, 1, S] (eager) or [B, 1, S, S] (sdpa): 0 where attended, float32 min
  // where masked.
  let maskBias: string;
  if (layout.attention === 'eager') {
    // get_extended_attention_mask: mask[:, None, None, :], to float, (1 - m) * min.
    const scope = '/roberta';
    const unsqueezed = graph.unsqueeze(scope, graph.unsqueeze(scope, 'attention_mask', [1]), [2]);
    const asFloat = graph.node('Cast', scope, [unsqueezed], castTo(TensorDataType.FLOAT));
    const inverted = graph.node('Sub', scope, [graph.float(scope, 1), asFloat]);
    maskBias = graph.node('Mul', scope, [inverted, graph.float(scope, FLOAT32_MIN)]);
  } else {
    // _prepare_4d_attention_mask_for_sdpa → _expand_mask: expand to [B, 1, S, S], (1 - m), masked_fill(min).
    const scope = '/roberta';
    const maskBatch = graph.sizeOf(scope, 'attention_mask', 0);
    const maskLength = graph.sizeOf(scope, 'attention_mask', 1);
    const unsqueezed = graph.unsqueeze(scope, graph.unsqueeze(scope, 'attention_mask', [1]), [2]);
    const shape = graph.node(
      'Concat',
      scope,
      [maskBatch.vector, graph.int64(scope, [1]), sequenceLength.vector, maskLength.vector],
      [intAttribute('axis', 0)],
    );
    const expanded = graph.node('Expand', scope, [unsqueezed, shape]);
    const asFloat = graph.node('Cast', scope, [expanded], castTo(TensorDataType.FLOAT));
    const inverted = graph.node('Sub', scope, [graph.float(scope, 1), asFloat]);
    const isMasked = graph.node('Cast', scope, [inverted], castTo(TensorDataType.BOOL));
    maskBias = graph.node('Where', scope, [isMasked, graph.float(scope, FLOAT32_MIN), inverted]);
  }

  /** transpose_for_scores: view as [B, S, heads, head_size] (shape from x.size()), then permute(0, 2, 1, 3). */
  const splitHeads = (scope: string, projected: string) => {
    const batch = graph.sizeOf(scope, projected, 0);
    const length = graph.sizeOf(scope, projected, 1);
    const shape = graph.node(
      'Concat',
      scope,
      [batch.vector, length.vector, graph.int64(scope, [numAttentionHeads]), graph.int64(scope, [headSize])],
      [intAttribute('axis', 0)],
    );
    return graph.node('Reshape', scope, [projected, shape]);
  };
  const transpose = (scope: string, input: string, perm: number[]) =>
    graph.node('Transpose', scope, [input], [intsAttribute('perm', perm)]);

  for (let layer = 0; layer < dimensions.numHiddenLayers; layer++) {
    const scope = `/roberta/encoder/layer.${layer}`;
    const self = `${scope}/attention/self`;

    let contextHidden: string;
    if (layout.attention === 'eager') {
      // RobertaSelfAttention: query projected first, then key and value each projected and split into heads.
      const queryProjected = dense(`${self}/query`, hidden, hiddenSize, hiddenSize);
      // key.permute(0, 2, 1, 3) then .transpose(-1, -2) in the matmul: the exporter fuses the two Transposes.
      const keyTransposed = transpose(
        self,
        splitHeads(self, dense(`${self}/key`, hidden, hiddenSize, hiddenSize)),
        [0, 2, 3, 1],
      );
      const value = transpose(
        self,
        splitHeads(self, dense(`${self}/value`, hidden, hiddenSize, hiddenSize)),
        [0, 2, 1, 3],
      );
      const query = transpose(self, splitHeads(self, queryProjected), [0, 2, 1, 3]);
      const scores = graph.node('MatMul', self, [query, keyTransposed]);
      const scaled = graph.node('Div', self, [scores, graph.float(self, Math.sqrt(headSize))]);
      const masked = graph.node('Add', self, [scaled, maskBias]);
      const probabilities = graph.softmax(self, masked);
      const context = graph.node('MatMul', self, [probabilities, value]);
      // context.permute(0, 2, 1, 3).view(context.size()[:-2] + (all_head_size,))
      const contextByToken = transpose(self, context, [0, 2, 1, 3]);
      const batch = graph.sizeOf(self, contextByToken, 0);
      const length = graph.sizeOf(self, contextByToken, 1);
      const shape = graph.node(
        'Concat',
        self,
        [batch.vector, length.vector, graph.int64(self, [hiddenSize])],
        [intAttribute('axis', 0)],
      );
      contextHidden = graph.node('Reshape', self, [contextByToken, shape]);
    } else {
      // RobertaSdpaSelfAttention: bsz, tgt_len = hidden_states.size()[:2]; q, k, v split into heads.
      const batch = graph.sizeOf(self, hidden, 0);
      const length = graph.sizeOf(self, hidden, 1);
      const query = transpose(
        self,
        splitHeads(self, dense(`${self}/query`, hidden, hiddenSize, hiddenSize)),
        [0, 2, 1, 3],
      );
      const key = transpose(
        self,
        splitHeads(self, dense(`${self}/key`, hidden, hiddenSize, hiddenSize)),
        [0, 2, 1, 3],
      );
      const value = transpose(
        self,
        splitHeads(self, dense(`${self}/value`, hidden, hiddenSize, hiddenSize)),
        [0, 2, 1, 3],
      );
      // torch's symbolic for scaled_dot_product_attention: scale = 1 / sqrt(q.size(-1)), applied as its
      // square root to Q and to the transposed K before the product.
      const queryShape = graph.node('Shape', self, [query]);
      const lastDim = graph.node('Slice', self, [
        queryShape,
        graph.int64(self, [-1]),
        graph.int64Big(self, INT64_MAX),
      ]);
      const lastDimFloat = graph.node('Cast', self, [lastDim], castTo(TensorDataType.FLOAT));
      const scale = graph.node('Div', self, [
        graph.float(self, 1, [1]),
        graph.node('Sqrt', self, [lastDimFloat]),
      ]);
      const scaleFloat = graph.node('Cast', self, [scale], castTo(TensorDataType.FLOAT));
      const keyTransposed = transpose(self, key, [0, 1, 3, 2]);
      const queryScaled = graph.node('Mul', self, [query, graph.node('Sqrt', self, [scaleFloat])]);
      const keyScaled = graph.node('Mul', self, [keyTransposed, graph.node('Sqrt', self, [scaleFloat])]);
      const scores = graph.node('MatMul', self, [queryScaled, keyScaled]);
      const masked = graph.node('Add', self, [scores, maskBias]);
      const probabilities = graph.softmax(self, masked);
      const context = graph.node('MatMul', self, [probabilities, value]);
      // attn_output.transpose(1, 2).reshape(bsz, tgt_len, all_head_size)
      const contextByToken = transpose(self, context, [0, 2, 1, 3]);
      const shape = graph.node(
        'Concat',
        self,
        [batch.vector, length.vector, graph.int64(self, [hiddenSize])],
        [intAttribute('axis', 0)],
      );
      contextHidden = graph.node('Reshape', self, [contextByToken, shape]);
    }

    const attentionOutput = `${scope}/attention/output`;
    const attentionDense = dense(`${attentionOutput}/dense`, contextHidden, hiddenSize, hiddenSize);
    const attentionResidual = graph.node('Add', attentionOutput, [attentionDense, hidden]);
    const attended = layerNorm(`${attentionOutput}/LayerNorm`, attentionResidual);

    const intermediate = dense(`${scope}/intermediate/dense`, attended, hiddenSize, intermediateSize);
    // Exact (erf) GELU, 0.5 * x * (1 + erf(x / sqrt 2)), in the node order of the torch export.
    const gelu = `${scope}/intermediate/intermediate_act_fn`;
    const erf = graph.node('Erf', gelu, [
      graph.node('Div', gelu, [intermediate, graph.float(gelu, Math.SQRT2)]),
    ]);
    const erfPlusOne = graph.node('Add', gelu, [erf, graph.float(gelu, 1)]);
    const gated = graph.node('Mul', gelu, [intermediate, erfPlusOne]);
    const activated = graph.node('Mul', gelu, [gated, graph.float(gelu, 0.5)]);

    const output = `${scope}/output`;
    const outputDense = dense(`${output}/dense`, activated, intermediateSize, hiddenSize);
    const outputResidual = graph.node('Add', output, [outputDense, attended]);
    hidden = layerNorm(`${output}/LayerNorm`, outputResidual);
  }

  // Classification head on the <s> token (features[:, 0, :]): dense, tanh, then out_proj (classifierModel).
  const firstToken = graph.node(
    'Gather',
    '/classifier',
    [hidden, graph.int64Scalar('/classifier', 0)],
    [intAttribute('axis', 1)],
  );
  const headDense = graph.gemm(
    '/classifier/dense',
    firstToken,
    denseWeight(hiddenSize, hiddenSize),
    new Float32Array(hiddenSize),
  );
  const pooled = graph.node('Tanh', '/classifier', [headDense], [], 'pooled');

  const batchBySequence = ['batch_size', 'sequence_length'];
  const inputs: ValueInfoProto[] = [
    { name: 'input_ids', elemType: TensorDataType.INT64, shape: batchBySequence },
    { name: 'attention_mask', elemType: TensorDataType.INT64, shape: batchBySequence },
  ];
  const encoderParameterCount = graph.initializers
    .filter((tensor) => tensor.dataType === TensorDataType.FLOAT)
    .reduce((count, tensor) => count + tensor.dims.reduce((product, dim) => product * dim, 1), 0);

  return {
    pooledModel: graph.toModel(inputs, [
      { name: pooled, elemType: TensorDataType.FLOAT, shape: ['batch_size', hiddenSize] },
    ]),
    initialOutputProjection: denseWeight(hiddenSize, NUM_LABELS),
    classifierModel({ weight, bias }) {
      const classifier = graph.fork();
      classifier.gemm('/classifier/out_proj', pooled, weight, bias, 'logits');
      return classifier.toModel(inputs, [
        { name: 'logits', elemType: TensorDataType.FLOAT, shape: ['batch_size', NUM_LABELS] },
      ]);
    },
    parameterCount: encoderParameterCount + (hiddenSize + 1) * NUM_LABELS,
    layout: { ...layout },
  };
}
