export { confusionMatrix, qualityFromConfusion, qualityMetrics, zipLabels } from './quality';
export type { ClassQuality, LabelInput, LabelPair, QualityMetrics } from './quality';
export { sampleFeatures } from './features';
export type { DriftSample, SampleFeatures } from './features';
export {
  MIN_EXPECTED_COUNT_FOR_Z,
  chiSquareGoodnessOfFit,
  fisherExactTwoSided,
  jensenShannonDistance,
  ksTwoSample,
  sortedCopy,
  twoProportionZTest,
} from './statistical-tests';
export type { ChiSquareResult, KsResult, TwoProportionResult } from './statistical-tests';
export {
  chiSquareSurvival,
  kolmogorovSurvival,
  lnGamma,
  normalTwoSidedP,
  regularizedGammaP,
  regularizedGammaQ,
} from './special-functions';
export {
  DEFAULT_DRIFT_THRESHOLDS,
  DEFAULT_RESERVOIR_CAP,
  DEFAULT_RESERVOIR_SEED,
  PROFILE_FORMAT_VERSION,
  buildProfile,
  compareToProfile,
  parseProfile,
} from './profile';
export type {
  BuildProfileOptions,
  DistributionStatistic,
  DriftReport,
  DriftStatistics,
  DriftThresholds,
  InsufficientStatistic,
  LabelMixStatistic,
  ReferenceProfile,
  Statistic,
  TruncationStatistic,
} from './profile';
export {
  DEFAULT_CONSECUTIVE_WINDOWS,
  DEFAULT_MIN_QUALITY_SAMPLES,
  DEFAULT_RETRAIN_TOLERANCE,
  SEED_ACCURACY_FLOOR,
  decideRetrain,
} from './decide-retrain';
export type {
  QualityMetricName,
  QualitySummary,
  RetrainDecision,
  RetrainInput,
  RetrainRule,
} from './decide-retrain';
export {
  REFERENCE_DISTRIBUTION,
  SHIFT_SCENARIOS,
  formatDetectionSummary,
  measureDetection,
  syntheticSample,
  syntheticSamples,
} from './simulation';
export type {
  DetectionOptions,
  DetectionSummary,
  ScenarioOutcome,
  ShiftScenario,
  SyntheticDistribution,
} from './simulation';
export {
  DEFAULT_BOOTSTRAP_RESAMPLES,
  DEFAULT_PAIRED_SEED,
  DEFAULT_PERMUTATIONS,
  EXACT_HARD_LIMIT,
  EXACT_MAX_DISCORDANT,
  mcnemarExactTest,
  pairedBootstrapInterval,
  pairedMacroRecallTest,
} from './paired-comparison';
export type {
  BootstrapInterval,
  BootstrapOptions,
  McNemarResult,
  PairedAlternative,
  PairedPredictions,
  PairedTestOptions,
  PairedTestResult,
} from './paired-comparison';
export { deriveSeed, seededRandom } from './random';
export type { Random } from './random';
