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
export { decodeModel, readModelFile } from './onnx-reader';
export { encodeModel, writeModelFile } from './onnx-proto';
export {
  DEFAULT_QUANTIZE_OPTIONS,
  modelPaths,
  quantizeModel,
  quantizeModelFile,
  quantizeWeight,
  type QuantizationSummary,
  type QuantizedMatMulOperator,
  type QuantizeOptions,
  type QuantizedWeight,
  type WeightType,
} from './quantize';
