export {
  DEFAULT_SEED,
  generateSyntheticModel,
  LABELS,
  SYNTHETIC_MODEL_NAME,
  type GenerateSyntheticModelOptions,
  type RobertaConfigJson,
  type SyntheticModelResult,
} from './generate';
export { isPresetName, PRESETS, resolveDimensions, type PresetName, type RobertaDimensions } from './presets';
export { DEFAULT_LAYOUT, SUPPORTED_OPSETS, type AttentionLayout, type GraphLayout } from './roberta-graph';
