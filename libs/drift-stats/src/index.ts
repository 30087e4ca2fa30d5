// The public face: what the drift monitor, the trainer's gate and the benchmarks use. The statistical
// tests and special functions behind them stay inside (their specs test them there).
export { qualityFromConfusion, qualityMetrics } from './quality';
export type { ClassQuality, QualityMetrics } from './quality';
export { DEFAULT_DRIFT_THRESHOLDS, buildProfile, compareToProfile, parseProfile } from './profile';
export type { DriftReport, DriftStatistics, DriftThresholds, ReferenceProfile } from './profile';
export {
  DEFAULT_CONSECUTIVE_WINDOWS,
  DEFAULT_MIN_QUALITY_SAMPLES,
  DEFAULT_RETRAIN_TOLERANCE,
  decideRetrain,
} from './decide-retrain';
export type { QualitySummary, RetrainRule } from './decide-retrain';
export { formatDetectionSummary, measureDetection } from './simulation';
export type { DetectionSummary } from './simulation';
export { mcnemarExactTest, pairedBootstrapInterval, pairedMacroRecallTest } from './paired-comparison';
export type { BootstrapInterval, McNemarResult, PairedTestResult } from './paired-comparison';
export { seededRandom } from './random';
