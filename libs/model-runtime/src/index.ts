export { SentimentModel, INFERENCE_THREAD_SCRIPT } from './sentiment-model';
export type { SentimentModelOptions, ModelBatch, BatchOutput } from './sentiment-model';
export { openModelDirectory, MODEL_FILE_CANDIDATES } from './model-directory';
export type { ModelDirectory, ModelVariant, ModelConfig } from './model-directory';
export { checkGraphInterface } from './graph-interface';
export type { GraphValue } from './graph-interface';
export { softmaxRows } from './softmax';
export {
  planBatch,
  LinearRunCost,
  calibrationShapes,
  calibrateRunCost,
  fitLine,
  MAX_PLANNED_TEXTS,
  DEFAULT_PACKING_LIMITS,
} from './packing-policy';
export type { RunCost, PackingLimits } from './packing-policy';
export {
  laneLayout,
  describeLaneLayout,
  soloLanePays,
  AUTO_LANES,
  SOLO_LANE_MAX_TIME_RATIO,
} from './inference-lanes';
export type { LaneLayout } from './inference-lanes';
