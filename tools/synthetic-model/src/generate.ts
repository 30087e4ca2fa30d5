/**
 * Writes a synthetic stand-in for cardiffnlp/twitter-roberta-base-sentiment-latest in the optimum/Xenova
 * layout: config.json, tokenizer files, onnx/model.onnx and, on request, onnx/model_quantized.onnx.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  quantizeModel,
  writeModelFile,
  type QuantizationSummary,
  type QuantizeOptions,
} from '@reputation-monitor/onnx-graph';
import { fitOutputProjection } from './calibrate';
import { resolveDimensions, type PresetName, type RobertaDimensions } from './presets';
import {
  buildRobertaGraph,
  checkLayout,
  DEFAULT_LAYOUT,
  LAYER_NORM_EPS,
  PAD_TOKEN_ID,
  type GraphLayout,
} from './roberta-graph';

export const DEFAULT_SEED = 42;
export const SYNTHETIC_MODEL_NAME = 'synthetic/twitter-roberta-base-sentiment-latest';
/** Index order of the real model: 0 negative, 1 neutral, 2 positive. */
export const LABELS = ['negative', 'neutral', 'positive'] as const;

const REQUIRED_TOKENIZER_FILE = 'tokenizer.json';
const OPTIONAL_TOKENIZER_FILES = [
  'tokenizer_config.json',
  'special_tokens_map.json',
  'vocab.json',
  'merges.txt',
];

export interface GenerateSyntheticModelOptions {
  outDir: string;
  preset: PresetName;
  /** An unsigned 32-bit integer; defaults to DEFAULT_SEED. */
  seed?: number;
  /** Folder holding the real RoBERTa tokenizer files (tokenizer.json at least). */
  tokenizerDir: string;
  overrides?: Partial<RobertaDimensions>;
  /** Which export to reproduce (opset, attention); default DEFAULT_LAYOUT, the optimum/Xenova export of the real model. */
  layout?: GraphLayout;
  /** Also write onnx/model_quantized.onnx, the dynamically quantized graph (MODEL_VARIANT=int8). */
  int8?: boolean | QuantizeOptions;
}

/** config.json as transformers writes it for the real model, plus a `synthetic` marker. */
export interface RobertaConfigJson {
  _name_or_path: string;
  architectures: ['RobertaForSequenceClassification'];
  model_type: 'roberta';
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: 'gelu';
  max_position_embeddings: number;
  type_vocab_size: 1;
  position_embedding_type: 'absolute';
  layer_norm_eps: number;
  pad_token_id: number;
  bos_token_id: number;
  eos_token_id: number;
  id2label: Record<string, string>;
  label2id: Record<string, number>;
  torch_dtype: 'float32';
  /** Present only in synthetic models, so they can never be mistaken for the real one. */
  synthetic: { preset: PresetName; seed: number; layout: GraphLayout };
}

export interface SyntheticModelResult {
  outDir: string;
  modelPath: string;
  /** Size of model.onnx. */
  bytes: number;
  /** Present when int8 was asked for. */
  quantized?: QuantizationSummary & { modelPath: string; bytes: number };
  parameterCount: number;
  config: RobertaConfigJson;
}

function buildConfig(
  dimensions: RobertaDimensions,
  preset: PresetName,
  seed: number,
  layout: GraphLayout,
): RobertaConfigJson {
  return {
    _name_or_path: SYNTHETIC_MODEL_NAME,
    architectures: ['RobertaForSequenceClassification'],
    model_type: 'roberta',
    vocab_size: dimensions.vocabSize,
    hidden_size: dimensions.hiddenSize,
    num_hidden_layers: dimensions.numHiddenLayers,
    num_attention_heads: dimensions.numAttentionHeads,
    intermediate_size: dimensions.intermediateSize,
    hidden_act: 'gelu',
    max_position_embeddings: dimensions.maxPositionEmbeddings,
    type_vocab_size: 1,
    position_embedding_type: 'absolute',
    layer_norm_eps: LAYER_NORM_EPS,
    pad_token_id: PAD_TOKEN_ID,
    bos_token_id: 0,
    eos_token_id: 2,
    id2label: Object.fromEntries(LABELS.map((label, index) => [String(index), label])),
    label2id: Object.fromEntries(LABELS.map((label, index) => [label, index])),
    torch_dtype: 'float32',
    synthetic: { preset, seed, layout },
  };
}

/** Copies the tokenizer through memory, so the copies are writable even when the sources are read-only. */
async function copyTokenizerFiles(tokenizerDir: string, outDir: string): Promise<void> {
  for (const file of [REQUIRED_TOKENIZER_FILE, ...OPTIONAL_TOKENIZER_FILES]) {
    const source = join(tokenizerDir, file);
    if (existsSync(source)) await writeFile(join(outDir, file), await readFile(source));
  }
}

export async function generateSyntheticModel(
  options: GenerateSyntheticModelOptions,
): Promise<SyntheticModelResult> {
  const seed = options.seed ?? DEFAULT_SEED;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new Error(`seed must be an integer from 0 to 4294967295, got ${seed}`);
  }
  const dimensions = resolveDimensions(options.preset, options.overrides);
  const layout = options.layout ?? DEFAULT_LAYOUT;
  checkLayout(layout);
  const tokenizerDir = resolve(options.tokenizerDir);
  if (!existsSync(join(tokenizerDir, REQUIRED_TOKENIZER_FILE))) {
    throw new Error(`Tokenizer directory ${tokenizerDir} has no ${REQUIRED_TOKENIZER_FILE}`);
  }

  const outDir = resolve(options.outDir);
  const modelPath = join(outDir, 'onnx', 'model.onnx');
  const quantizedPath = join(outDir, 'onnx', 'model_quantized.onnx');
  const configPath = join(outDir, 'config.json');
  // config.json is removed first and written last, so its presence means the directory is complete. An int8
  // graph of an earlier model goes too: it must never sit beside weights it was not made from.
  await rm(configPath, { force: true });
  await rm(quantizedPath, { force: true });
  await mkdir(join(outDir, 'onnx'), { recursive: true });

  const graph = buildRobertaGraph(dimensions, seed, layout);
  const outputProjection = await fitOutputProjection(graph, dimensions, join(outDir, 'onnx'));
  const model = graph.classifierModel(outputProjection);
  const bytes = await writeModelFile(modelPath, model);
  let quantized: SyntheticModelResult['quantized'];
  if (options.int8) {
    const { model: int8Model, summary } = quantizeModel(model, options.int8 === true ? {} : options.int8);
    quantized = {
      ...summary,
      modelPath: quantizedPath,
      bytes: await writeModelFile(quantizedPath, int8Model),
    };
  }
  await copyTokenizerFiles(tokenizerDir, outDir);

  const config = buildConfig(dimensions, options.preset, seed, graph.layout);
  await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`);
  return {
    outDir,
    modelPath,
    bytes,
    parameterCount: graph.parameterCount,
    config,
    ...(quantized && { quantized }),
  };
}
