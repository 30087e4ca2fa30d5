import { Inject, Injectable, Logger } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { METRICS_REGISTRY } from '@reputation-monitor/observability';
import { EXAMPLE_COUNTERS, ExampleBuffer } from '@reputation-monitor/prediction-store';
import type { RetrainOutcome } from '@reputation-monitor/retrain-trigger';
import { CandidateSection, candidateQualityRows } from '../candidate';
import { DatasetSection, EXPORT_STATUSES } from '../dataset-exporter';
import { DriftStore } from '../drift-store';
import { RETRAIN_OUTCOMES, RUN_OUTCOMES, RunOutcome, RunReport, qualityRows, statisticRows } from '../report';

/** A run reads a window, waits for the golden set and may call GitHub: 50 ms to 10 min. */
export const RUN_DURATION_BUCKETS_SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
/** How long a scrape reuses one read of the latest report (several gauges collect from it). */
const SNAPSHOT_TTL_MS = 1_000;

interface Snapshot {
  report: RunReport | undefined;
  lastSuccess: number | undefined;
}

/**
 * The drift monitor's metrics, on the registry /metrics serves (labelled app="drift-monitor").
 *
 * Counters count what this process did (Prometheus sums replicas). The gauges describe the latest report
 * and are read from Redis at scrape time, so every replica shows the same figures whichever of them ran
 * the window, and only the latest report's model version has series (old versions drop out instead of
 * accumulating).
 */
@Injectable()
export class DriftMetrics {
  private readonly logger = new Logger('DriftMetrics');
  private readonly runs: Counter<'outcome'>;
  private readonly triggers: Counter<'outcome'>;
  private readonly runDuration: Histogram;
  private readonly exports: Counter<'outcome'>;
  private readonly exportedExamples: Counter;
  private snapshot: { at: number; value: Promise<Snapshot> } | undefined;

  constructor(
    @Inject(METRICS_REGISTRY) private readonly registry: Registry,
    private readonly store: DriftStore,
    examples: ExampleBuffer,
  ) {
    const registers = [registry];
    this.runs = new Counter({
      name: 'drift_monitor_runs_total',
      help: 'Drift evaluations by outcome (success, partial: report written but a part failed, failed).',
      labelNames: ['outcome'],
      registers,
    });
    this.triggers = new Counter({
      name: 'drift_monitor_retrain_triggers_total',
      help: 'Retraining requests by outcome (dispatched, dry_run, deduped, failed).',
      labelNames: ['outcome'],
      registers,
    });
    this.runDuration = new Histogram({
      name: 'drift_monitor_run_duration_seconds',
      help: 'Duration of one evaluation, golden set included.',
      buckets: RUN_DURATION_BUCKETS_SECONDS,
      registers,
    });
    this.exports = new Counter({
      name: 'drift_monitor_dataset_exports_total',
      help: 'Labelled-example exports to the dataset store by outcome (exported, waiting, unchanged, failed, disabled).',
      labelNames: ['outcome'],
      registers,
    });
    this.exportedExamples = new Counter({
      name: 'drift_monitor_exported_examples_total',
      help: 'Labelled examples this process appended to the dataset store.',
      registers,
    });
    for (const outcome of EXPORT_STATUSES) this.exports.inc({ outcome }, 0);
    const latestReport = () => this.latest();
    new Gauge({
      name: 'drift_monitor_dataset_examples',
      help: 'Examples in the dataset snapshot of the latest report (records as stored).',
      registers,
      async collect() {
        this.reset();
        const { report } = await latestReport();
        if (report?.dataset?.snapshot) this.set(report.dataset.snapshot.examples);
      },
    });
    new Gauge({
      name: 'drift_monitor_examples_pending',
      help: 'Labelled examples waiting in Redis for export at the latest run.',
      registers,
      async collect() {
        this.reset();
        const { report } = await latestReport();
        if (report?.dataset) this.set(report.dataset.pending);
      },
    });
    const logger = this.logger;
    new Gauge({
      name: 'drift_monitor_example_buffer_examples',
      help:
        'Labelled examples by what became of them in the Redis buffer, all replicas, since the buffer began ' +
        '(expired and evicted ones never reached the dataset store).',
      labelNames: ['outcome'],
      registers,
      async collect() {
        this.reset();
        const counts = await examples.counters().catch((error: Error) => {
          logger.warn(`metrics: could not read the example buffer's counters: ${error.message}`);
          return undefined;
        });
        if (counts) for (const outcome of EXAMPLE_COUNTERS) this.set({ outcome }, counts[outcome]);
      },
    });
    // Every outcome from the start, so rates read 0 rather than nothing.
    for (const outcome of RUN_OUTCOMES) this.runs.inc({ outcome }, 0);
    for (const outcome of RETRAIN_OUTCOMES) this.triggers.inc({ outcome }, 0);

    const latest = () => this.latest();
    new Gauge({
      name: 'drift_monitor_last_success_timestamp_seconds',
      help: 'Unix time of the last fully successful evaluation (any replica).',
      registers,
      async collect() {
        const { lastSuccess } = await latest();
        if (lastSuccess !== undefined) this.set(lastSuccess);
      },
    });
    new Gauge({
      name: 'drift_monitor_last_run_timestamp_seconds',
      help: 'Unix time of the latest report (any replica).',
      registers,
      async collect() {
        const { report } = await latest();
        if (report) this.set(Date.parse(report.createdAt) / 1000);
      },
    });
    this.reportGauge(
      'drift_monitor_window_samples',
      'Predictions of the model version in the latest window.',
      [],
      (report, set) => set({}, report.samples.evaluated),
    );
    this.reportGauge(
      'drift_monitor_window_incomplete',
      '1 when the latest window was not read whole: capped (over MAX_WINDOW_SAMPLES entries) or trimmed (the ' +
        "stream's PREDICTION_STREAM_MAXLEN had dropped its start), else 0.",
      ['reason'],
      (report, set) => {
        set({ reason: 'capped' }, report.samples.capped ? 1 : 0);
        set({ reason: 'trimmed' }, report.samples.trimmed === true ? 1 : 0);
      },
    );
    this.reportGauge(
      'drift_monitor_window_drifted',
      '1 when the latest window drifted from its reference, else 0.',
      [],
      (report, set) => set({}, report.drift.drifted ? 1 : 0),
    );
    this.reportGauge(
      'drift_monitor_drift_streak_windows',
      'Drifted windows in a row ending with the latest (non-overlapping windows).',
      [],
      (report, set) => set({}, report.decision.numbers.driftStreak),
    );
    this.reportGauge(
      'drift_monitor_drift_statistic',
      'Drift statistic of the latest window: JS distance (labelMix), KS D (confidence, entropy, tokens), truncated share (truncation).',
      ['statistic'],
      (report, set) => {
        for (const row of statisticRows(report.drift)) set({ statistic: row.statistic }, row.value);
      },
    );
    this.reportGauge(
      'drift_monitor_drift_p_value',
      'p-value of each drift statistic of the latest window.',
      ['statistic'],
      (report, set) => {
        for (const row of statisticRows(report.drift)) set({ statistic: row.statistic }, row.pValue);
      },
    );
    this.reportGauge(
      'drift_monitor_quality',
      'Quality of the latest run by source (golden set, feedback labels) and metric.',
      ['source', 'metric'],
      (report, set) => {
        for (const row of qualityRows(report))
          set({ model_version: row.modelVersion, source: row.source, metric: row.metric }, row.value);
      },
    );
    this.reportGauge(
      'drift_monitor_quality_samples',
      'Labelled predictions behind the quality figures of the latest run.',
      ['source'],
      (report, set) => {
        for (const section of Object.values(report.quality)) {
          set(
            { model_version: section.modelVersion ?? version(report), source: section.source },
            section.count,
          );
        }
      },
    );

    this.candidateGauge(
      'drift_monitor_candidate_pairs',
      'Texts of the latest window scored by both the candidate and production (shadow or canary pairs).',
      [],
      (candidate, set) => set({}, candidate.pairs),
    );
    this.candidateGauge(
      'drift_monitor_candidate_labelled_pairs',
      'Pairs of the latest window with a feedback label: what the quality figures and the verdict rest on.',
      [],
      (candidate, set) => set({}, candidate.labelled),
    );
    this.candidateGauge(
      'drift_monitor_candidate_agreement',
      'Share of pairs of the latest window on which the candidate and production gave the same label.',
      [],
      (candidate, set) => {
        if (candidate.agreement !== null) set({}, candidate.agreement);
      },
    );
    this.candidateGauge(
      'drift_monitor_candidate_quality',
      'Quality of production and of the candidate on the same labelled pairs of the latest window.',
      ['role', 'metric'],
      (candidate, set) => {
        for (const row of candidateQualityRows(candidate))
          set({ role: row.role, metric: row.metric }, row.value);
      },
    );
    this.candidateGauge(
      'drift_monitor_candidate_worse',
      '1 when the paired test of the latest window says production is better than the candidate (p < CANDIDATE_ALPHA), else 0.',
      [],
      (candidate, set) => set({}, candidate.worse ? 1 : 0),
    );
  }

  runFinished(outcome: RunOutcome, seconds: number): void {
    this.runs.inc({ outcome });
    this.runDuration.observe(seconds);
  }

  datasetExported(section: DatasetSection): void {
    this.exports.inc({ outcome: section.status });
    for (const batch of [section.resumedBatch, section.batch])
      if (batch?.written) this.exportedExamples.inc(batch.examples);
  }

  retrainRequested(outcome: RetrainOutcome): void {
    this.triggers.inc({ outcome });
  }

  /** The latest report, read once per scrape; a Redis error leaves the gauges empty instead of failing the scrape. */
  private latest(): Promise<Snapshot> {
    const now = Date.now();
    if (!this.snapshot || now - this.snapshot.at > SNAPSHOT_TTL_MS) {
      const value = Promise.all([this.store.latestReports(1), this.store.lastSuccess()]).then(
        ([reports, lastSuccess]) => ({ report: reports[0], lastSuccess }),
        (error: Error) => {
          this.logger.warn(`metrics: could not read the latest report: ${error.message}`);
          return { report: undefined, lastSuccess: undefined };
        },
      );
      this.snapshot = { at: now, value };
    }
    return this.snapshot.value;
  }

  /**
   * A gauge of the latest report's candidate section, labelled by the production version, the candidate's
   * and the mode (plus `labels`); no series while the latest report has no candidate.
   */
  private candidateGauge(
    name: string,
    help: string,
    labels: string[],
    fill: (candidate: CandidateSection, set: (labels: Record<string, string>, value: number) => void) => void,
  ): void {
    const latest = () => this.latest();
    new Gauge({
      name,
      help,
      labelNames: [...CANDIDATE_LABELS, ...labels],
      registers: [this.registry],
      async collect() {
        this.reset();
        const { report } = await latest();
        if (!report?.candidate) return;
        const candidate = report.candidate;
        const series = {
          model_version: candidate.productionVersion ?? version(report),
          candidate_version: candidate.version,
          mode: candidate.mode,
        };
        fill(candidate, (values, value) => this.set({ ...series, ...values }, value));
      },
    });
  }

  /** A gauge labelled by model_version (plus `labels`), reset and filled from the latest report at each scrape. */
  private reportGauge(
    name: string,
    help: string,
    labels: string[],
    fill: (report: RunReport, set: (labels: Record<string, string>, value: number) => void) => void,
  ): void {
    const latest = () => this.latest();
    new Gauge({
      name,
      help,
      labelNames: ['model_version', ...labels],
      registers: [this.registry],
      async collect() {
        this.reset();
        const { report } = await latest();
        if (!report || report.model.version === null) return;
        const modelVersion = report.model.version;
        // The fill may name another version (the golden set answered by a newer model mid-rollout).
        fill(report, (values, value) => this.set({ model_version: modelVersion, ...values }, value));
      },
    });
  }
}

/** Labels every candidate series carries: the production version, the candidate's and the mode. */
const CANDIDATE_LABELS = ['model_version', 'candidate_version', 'mode'] as const;

function version(report: RunReport): string {
  return report.model.version ?? 'none';
}
