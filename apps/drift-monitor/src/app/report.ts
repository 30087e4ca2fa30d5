import { randomBytes } from 'node:crypto';
import type { SentimentLabel } from '@reputation-monitor/contracts';
import type {
  ClassQuality,
  DriftReport,
  DriftStatistics,
  QualityMetrics,
} from '@reputation-monitor/drift-stats';
import type { RetrainOutcome, RetrainRequest, RetrainResult } from '@reputation-monitor/retrain-trigger';
import type { CandidateSection } from './candidate';
import type { DatasetSection } from './dataset-exporter';
import type { QualitySource, RunDecision } from './decision';

export type RunTrigger = 'schedule' | 'manual' | 'cli';
/** success: every part ran; partial: the report was written but a part failed (e.g. the golden set timed out). */
export type RunOutcome = 'success' | 'partial' | 'failed';
export const RUN_OUTCOMES: readonly RunOutcome[] = ['success', 'partial', 'failed'];
export const RETRAIN_OUTCOMES: readonly RetrainOutcome[] = ['dispatched', 'dry_run', 'deduped', 'failed'];
export const STATISTICS = ['labelMix', 'confidence', 'entropy', 'tokens', 'truncation'] as const;
export type StatisticName = (typeof STATISTICS)[number];

export interface QualitySection {
  source: QualitySource;
  /** measured; no_samples (nothing labelled in the window); disabled (no golden set); failed (see error). */
  status: 'measured' | 'no_samples' | 'disabled' | 'failed';
  modelVersion: string | null;
  count: number;
  accuracy?: number;
  macroRecall?: number;
  macroPrecision?: number;
  macroF1?: number;
  perClass?: Record<SentimentLabel, ClassQuality>;
  /** Rows true label, columns predicted, in schema order. */
  confusion?: number[][];
  /** Feedback records left out: labels of predictions by another model version, or unreadable records. */
  ignored?: { otherVersions: number; unreadable: number };
  durationMs?: number;
  error?: string;
}

export interface ReferenceSection {
  /** stored: read back; created: built by this run; missing: none yet and none could be built. */
  status: 'stored' | 'created' | 'missing';
  source?: 'window' | 'golden';
  count?: number;
  createdAt?: string;
  /** The report of the run that built it. */
  createdBy?: string;
  message: string;
}

export interface DriftSection {
  /**
   * evaluated: compared with the reference; reference_created: this window became the reference (not
   * compared with itself, counted as not drifted); no_reference: nothing to compare with.
   */
  status: 'evaluated' | 'reference_created' | 'no_reference';
  drifted: boolean;
  /** Too few samples for any statistic: the window does not count towards the drift history. */
  insufficient: boolean;
  reasons: string[];
  windowCount: number;
  referenceCount: number | null;
  correction?: DriftReport['correction'];
  thresholds?: DriftReport['thresholds'];
  statistics?: DriftStatistics;
}

export interface BaselineSection {
  /** config: BASELINE_MACRO_RECALL; stored/created: the golden set's result on a version's first run. */
  source: 'config' | 'stored' | 'created' | 'none';
  macroRecall: number | null;
  accuracy: number | null;
  count?: number;
  createdAt?: string;
  createdBy?: string;
}

export interface RetrainSection {
  requested: boolean;
  outcome?: RetrainOutcome;
  attempts?: number;
  status?: number;
  error?: string;
  cooldownUntil?: string;
  /** The event went nowhere because GITHUB_TOKEN is unset. */
  dryRun?: boolean;
}

export interface SampleCounts {
  /** Stream entries in the window. */
  entries: number;
  /** Traffic predictions of the evaluated model version: what the drift statistics saw. */
  evaluated: number;
  /** The monitor's own golden-set predictions, left out. */
  golden: number;
  malformed: number;
  /** Entries repeating one already read (a job run twice), counted once (absent in older reports). */
  duplicates?: number;
  /**
   * Shadow predictions (a candidate, or production beside a canary, scoring texts it did not answer), left
   * out of drift and quality: they describe no traffic. The `candidate` section compares them.
   */
  shadow: number;
  /** Traffic predictions of other model versions, left out. */
  otherVersions: number;
  byVersion: Record<string, number>;
  /** The window held more than MAX_WINDOW_SAMPLES entries; only the oldest were read. */
  capped: boolean;
  /**
   * The prediction stream's cap (PREDICTION_STREAM_MAXLEN, too small for the window at this traffic) had
   * already trimmed the window's oldest entries: the figures describe its later part only. Absent in reports
   * of monitors from before it was measured.
   */
  trimmed?: boolean;
}

export interface RunReport {
  id: string;
  createdAt: string;
  durationMs: number;
  triggeredBy: RunTrigger;
  outcome: Exclude<RunOutcome, 'failed'>;
  /** What went wrong in a partial run, one line each. */
  errors: string[];
  window: { start: string; end: string; minutes: number };
  model: { version: string | null; name: string | null };
  samples: SampleCounts;
  reference: ReferenceSection;
  drift: DriftSection;
  quality: Record<QualitySource, QualitySection>;
  baseline: BaselineSection;
  decision: RunDecision;
  /** Labelled examples exported to the dataset store by this run, and the snapshot a retrain would use. */
  dataset: DatasetSection;
  retrain: RetrainSection;
  /**
   * The candidate against production on the texts both scored (shadow or canary pairs), present while the
   * model assignment names a candidate or the window holds shadow predictions.
   */
  candidate?: CandidateSection;
}

/** Sortable by time, unique across replicas: 20250102T031500123Z-3f9a1c. */
export function newReportId(at: Date): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace('.', '');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

export const REPORT_ID_PATTERN = /^[0-9]{8}T[0-9]{9}Z-[0-9a-f]{6}$/;

export function qualitySection(
  source: QualitySource,
  modelVersion: string | null,
  metrics: QualityMetrics,
  extra: Partial<QualitySection> = {},
): QualitySection {
  if (metrics.count === 0) return { source, status: 'no_samples', modelVersion, count: 0, ...extra };
  return {
    source,
    status: 'measured',
    modelVersion,
    count: metrics.count,
    accuracy: metrics.accuracy,
    macroRecall: metrics.macroRecall,
    macroPrecision: metrics.macroPrecision,
    macroF1: metrics.macroF1,
    perClass: metrics.perClass,
    confusion: metrics.confusion,
    ...extra,
  };
}

/** The figures of a measured section, as `decide` takes them; undefined when nothing was measured. */
export function qualitySummary(
  section: QualitySection,
): { accuracy: number; macroRecall: number; count: number } | undefined {
  if (section.status !== 'measured' || section.accuracy === undefined || section.macroRecall === undefined)
    return undefined;
  return { accuracy: section.accuracy, macroRecall: section.macroRecall, count: section.count };
}

export function driftSection(report: DriftReport): DriftSection {
  return {
    status: 'evaluated',
    drifted: report.drifted,
    insufficient: report.insufficient,
    reasons: report.reasons,
    windowCount: report.windowCount,
    referenceCount: report.referenceCount,
    correction: report.correction,
    thresholds: report.thresholds,
    statistics: report.statistics,
  };
}

export interface StatisticRow {
  statistic: StatisticName;
  /** JS distance (labelMix), KS D (confidence, entropy, tokens), truncated share (truncation). */
  value: number;
  pValue: number;
  drifted: boolean;
}

/** One row per statistic that produced a number (insufficient ones are left out). */
export function statisticRows(drift: DriftSection): StatisticRow[] {
  const rows: StatisticRow[] = [];
  if (!drift.statistics) return rows;
  for (const statistic of STATISTICS) {
    const stat = drift.statistics[statistic];
    if (stat.insufficient) continue;
    rows.push({ statistic, value: stat.value, pValue: stat.pValue, drifted: stat.drifted });
  }
  return rows;
}

export interface QualityRow {
  /** The version that made the predictions scored (the golden set's can differ from the window's). */
  modelVersion: string;
  source: QualitySource;
  metric: 'accuracy' | 'macro_recall' | 'macro_precision' | 'macro_f1';
  value: number;
}

export function qualityRows(report: Pick<RunReport, 'quality' | 'model'>): QualityRow[] {
  const rows: QualityRow[] = [];
  for (const section of Object.values(report.quality)) {
    const modelVersion = section.modelVersion ?? report.model.version;
    if (section.status !== 'measured' || modelVersion === null) continue;
    const values = {
      accuracy: section.accuracy,
      macro_recall: section.macroRecall,
      macro_precision: section.macroPrecision,
      macro_f1: section.macroF1,
    } as const;
    for (const [metric, value] of Object.entries(values)) {
      if (value !== undefined)
        rows.push({ modelVersion, source: section.source, metric: metric as QualityRow['metric'], value });
    }
  }
  return rows;
}

/**
 * What GitHub receives: the fired rules' reasons first, then the window's drift reasons; the key numbers,
 * most important first (the payload keeps the first entries when it has to be trimmed).
 */
export function retrainRequest(
  report: Pick<
    RunReport,
    'id' | 'model' | 'decision' | 'drift' | 'samples' | 'baseline' | 'quality' | 'dataset'
  >,
): RetrainRequest {
  const reasons = [...report.decision.fired.map((fired) => fired.reason)];
  for (const reason of report.drift.reasons) reasons.push(`this window: ${reason}`);
  const metrics: Record<string, number> = {};
  for (const source of ['feedback', 'golden'] as const) {
    const section = report.quality[source];
    if (section.status === 'measured' && section.macroRecall !== undefined) {
      metrics[`${source}_macro_recall`] = section.macroRecall;
      metrics[`${source}_accuracy`] = section.accuracy as number;
      metrics[`${source}_count`] = section.count;
    }
  }
  if (report.baseline.macroRecall !== null) metrics.baseline_macro_recall = report.baseline.macroRecall;
  metrics.drift_streak = report.decision.numbers.driftStreak;
  metrics.window_samples = report.samples.evaluated;
  for (const row of statisticRows(report.drift)) {
    metrics[`drift_${row.statistic}`] = row.value;
    metrics[`drift_${row.statistic}_p`] = row.pValue;
  }
  if (report.dataset.snapshot) metrics.dataset_examples = report.dataset.snapshot.examples;
  return {
    reportId: report.id,
    modelVersion: report.model.version ?? 'unknown',
    reasons,
    metrics,
    ...(report.dataset.snapshot && { datasetSnapshot: report.dataset.snapshot.location }),
  };
}

export function retrainSection(result: RetrainResult, dryRun: boolean): RetrainSection {
  return {
    requested: true,
    outcome: result.outcome,
    attempts: result.attempts,
    ...(result.status !== undefined && { status: result.status }),
    ...(result.error !== undefined && { error: result.error }),
    ...(result.cooldownUntil && { cooldownUntil: result.cooldownUntil.toISOString() }),
    ...(dryRun && { dryRun }),
  };
}
