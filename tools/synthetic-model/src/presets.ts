/** Architecture numbers of a RoBERTa encoder with a 3-way sentiment head. */
export interface RobertaDimensions {
  vocabSize: number;
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  intermediateSize: number;
  maxPositionEmbeddings: number;
}

export type PresetName = 'tiny' | 'small' | 'base';

/** The vocabulary is always the real one, so ids from the real tokenizer are valid in every preset. */
const ROBERTA_VOCAB_SIZE = 50265;
/** positions start at padding_idx + 1 = 2, so 514 rows allow 512 tokens. */
const ROBERTA_MAX_POSITIONS = 514;

export const PRESETS: Readonly<Record<PresetName, Readonly<RobertaDimensions>>> = {
  /** For unit tests: a few MB, generated in milliseconds. */
  tiny: {
    vocabSize: ROBERTA_VOCAB_SIZE,
    hiddenSize: 32,
    numHiddenLayers: 2,
    numAttentionHeads: 4,
    intermediateSize: 64,
    maxPositionEmbeddings: ROBERTA_MAX_POSITIONS,
  },
  /** For tests that need inference to take noticeable time. */
  small: {
    vocabSize: ROBERTA_VOCAB_SIZE,
    hiddenSize: 256,
    numHiddenLayers: 4,
    numAttentionHeads: 4,
    intermediateSize: 1024,
    maxPositionEmbeddings: ROBERTA_MAX_POSITIONS,
  },
  /** The shape of cardiffnlp/twitter-roberta-base-sentiment-latest, for benchmarks. */
  base: {
    vocabSize: ROBERTA_VOCAB_SIZE,
    hiddenSize: 768,
    numHiddenLayers: 12,
    numAttentionHeads: 12,
    intermediateSize: 3072,
    maxPositionEmbeddings: ROBERTA_MAX_POSITIONS,
  },
};

export function isPresetName(name: string): name is PresetName {
  return Object.prototype.hasOwnProperty.call(PRESETS, name);
}

/** A preset with overrides applied; throws if the result cannot form a valid graph. */
export function resolveDimensions(
  preset: PresetName,
  overrides: Partial<RobertaDimensions> = {},
): RobertaDimensions {
  const dimensions: RobertaDimensions = { ...PRESETS[preset], ...overrides };
  for (const [key, value] of Object.entries(dimensions)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new Error(`${key} must be a positive integer, got ${value}`);
    }
  }
  if (dimensions.hiddenSize % dimensions.numAttentionHeads !== 0) {
    throw new Error(
      `hiddenSize (${dimensions.hiddenSize}) must be divisible by numAttentionHeads (${dimensions.numAttentionHeads})`,
    );
  }
  // Room for the special tokens (<s>=0, <pad>=1, </s>=2) and a few words; position ids start at 2.
  if (dimensions.vocabSize < 8 || dimensions.maxPositionEmbeddings < 8) {
    throw new Error('vocabSize and maxPositionEmbeddings must both be at least 8');
  }
  return dimensions;
}
