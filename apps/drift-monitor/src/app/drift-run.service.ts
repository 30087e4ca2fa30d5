import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import {
  DriftThresholds,
  buildProfile,
  compareToProfile,
  qualityMetrics,
} from '@reputation-monitor/drift-stats';
import { RetrainTrigger } from '@reputation-monitor/retrain-trigger';
import { compareCandidate } from './candidate';
import { DatasetExporter } from './dataset-exporter';
import { Baseline, DriftHistoryEntry, consecutiveWindows, decide } from './decision';
import { GOLDEN_SOURCE } from '@reputation-monitor/contracts';
import { DriftConfig } from './drift-config';
import { DriftStore, StoredProfile } from './drift-store';
import { GoldenRun, GoldenSetRunner } from './golden-runner';
import { DriftMetrics } from './metrics/drift-metrics';
import {
  BaselineSection,
  DriftSection,
  QualitySection,
  ReferenceSection,
  RetrainSection,
  RunReport,
  RunTrigger,
  driftSection,
  newReportId,
  qualitySection,
  qualitySummary,
  retrainRequest,
  retrainSection,
} from './report';
import { DRIFT_CONFIG } from './tokens';
import {
  StreamPrediction,
  WindowBounds,
  WindowContents,
  chooseModelVersion,
  readWindow,
  windowBounds,
} from './window';

export interface RunOptions {
  /** End of the window (ms since epoch, exclusive); default now. */
  windowEnd?: number;
  triggeredBy: RunTrigger;
  /** An operator asked for a retrain (POST /v1/runs with retrain: true), whatever the rules decide. */
  requestRetrain?: boolean;
}

/**
 * How long a run waits for another replica's run to finish. A caller of POST /v1/runs gets a 409 soon and
 * may retry; a scheduled or command-line run waits out any run the golden-set timeouts allow.
 */
export const LEASE_WAIT_MS: Record<RunTrigger, number> = {
  manual: 10_000,
  schedule: 10 * 60_000,
  cli: 10 * 60_000,
};

/** Another replica held the run lease for longer than this run would wait. */
export class RunBusyError extends Error {
  constructor(waitedMs: number) {
    super(`another replica is evaluating a window (waited ${waitedMs} ms); retry shortly`);
  }
}

/**
 * One evaluation of one window: read the window's predictions and feedback, run the golden set through
 * the queue, compare with the model version's reference, decide, maybe ask GitHub to retrain, and store
 * the report. Runs are serialised in one process (a promise chain) and across replicas (a lease in Redis):
 * the scheduled one and manual ones never interleave, so each run sees the history the previous one wrote.
 */
@Injectable()
export class DriftRunService implements OnApplicationShutdown {
  private readonly logger = new Logger('DriftRun');
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: DriftStore,
    private readonly golden: GoldenSetRunner,
    private readonly retrain: RetrainTrigger,
    private readonly metrics: DriftMetrics,
    private readonly exporter: DatasetExporter,
    @Inject(DRIFT_CONFIG) private readonly config: DriftConfig,
  ) {}

  /** Lets a run in progress finish (and store its report) before the module closes Redis. */
  async onApplicationShutdown(): Promise<void> {
    await this.tail;
  }

  run(options: RunOptions): Promise<RunReport> {
    const result = this.tail.then(() => this.execute(options));
    this.tail = result.catch(() => undefined);
    return result;
  }

  private async execute(options: RunOptions): Promise<RunReport> {
    const waitMs = LEASE_WAIT_MS[options.triggeredBy];
    const lease = await this.store.acquireRunLease(randomUUID(), waitMs);
    if (!lease) throw new RunBusyError(waitMs);
    try {
      return await this.measure(options);
    } finally {
      if (!lease.held())
        this.logger.warn(
          'the run lease lapsed during the run (the process stalled?); another run may have overlapped',
        );
      await lease
        .release()
        .catch((error: Error) => this.logger.warn(`releasing the run lease: ${error.message}`));
    }
  }

  private async measure(options: RunOptions): Promise<RunReport> {
    const startedAt = new Date();
    const started = performance.now();
    try {
      const report = await this.evaluate(options, startedAt, started);
      this.metrics.runFinished(report.outcome, (performance.now() - started) / 1000);
      if (report.outcome === 'success') await this.store.markSuccess(new Date());
      const retrain = report.retrain.requested ? `, retrain ${report.retrain.outcome}` : '';
      const candidate = report.candidate
        ? `, candidate ${report.candidate.version} ${report.candidate.status}${report.candidate.worse ? ' WORSE' : ''}`
        : '';
      this.logger.log(
        `report ${report.id} (${options.triggeredBy}): ${report.outcome}, version ${report.model.version ?? 'none'}, ` +
          `${report.samples.evaluated} predictions, drifted ${report.drift.drifted}, decision ${report.decision.rule}${retrain}${candidate}`,
      );
      if (report.candidate?.worse)
        this.logger.warn(`candidate ${report.candidate.version}: ${report.candidate.reasons.join('; ')}`);
      if (report.samples.trimmed)
        this.logger.warn(
          `report ${report.id}: the prediction stream had already dropped the start of the window ` +
            `(${report.window.start}); raise the workers' PREDICTION_STREAM_MAXLEN above the texts of one window`,
        );
      return report;
    } catch (error) {
      this.metrics.runFinished('failed', (performance.now() - started) / 1000);
      this.logger.error(
        `run (${options.triggeredBy}) failed: ${(error as Error).message}`,
        (error as Error).stack,
      );
      throw error;
    }
  }

  /** gather → measure → decide → act, then the report that says what each step found and did. */
  private async evaluate(options: RunOptions, startedAt: Date, started: number): Promise<RunReport> {
    const id = newReportId(startedAt);
    const bounds = windowBounds(options.windowEnd ?? startedAt.getTime(), this.config.windowMinutes);
    const errors: string[] = [];

    const inputs = await this.gather(bounds);
    if (inputs.goldenAttempt?.error) errors.push(inputs.goldenAttempt.error);
    const measured = await this.measureWindow(inputs, bounds, id);
    const decision = this.decideRetrain(measured, options);
    const outcome = await this.act(inputs, measured, decision, options, id, errors);

    const report: RunReport = {
      id,
      createdAt: startedAt.toISOString(),
      durationMs: Math.round(performance.now() - started),
      triggeredBy: options.triggeredBy,
      outcome: errors.length === 0 ? 'success' : 'partial',
      errors,
      window: {
        start: new Date(bounds.start).toISOString(),
        end: new Date(bounds.end).toISOString(),
        minutes: this.config.windowMinutes,
      },
      model: outcome.model,
      samples: outcome.samples,
      reference: measured.reference,
      drift: measured.drift,
      quality: measured.quality,
      baseline: measured.baseline,
      decision,
      dataset: outcome.dataset,
      retrain: outcome.retrain,
      ...(measured.candidate && { candidate: measured.candidate }),
    };
    await this.store.saveReport(report);
    return report;
  }

  /** Reads the window's predictions and feedback and the assignment, and runs the golden set, all at once. */
  private async gather(bounds: WindowBounds): Promise<RunInputs> {
    const config = this.config;
    const [stream, feedback, assignment, goldenAttempt] = await Promise.all([
      this.store.readStream(bounds, config.maxWindowSamples),
      this.store.readFeedback(bounds, config.maxWindowSamples),
      this.store.readAssignment(),
      this.runGolden(),
    ]);
    const window = readWindow(stream.entries, GOLDEN_SOURCE);
    const version = chooseModelVersion(window, goldenAttempt?.run?.modelVersion) ?? null;
    const samples = version === null ? [] : window.predictions.filter((p) => p.version === version);
    return { stream, feedback, assignment, goldenAttempt, window, version, samples };
  }

  /**
   * Quality (golden set, feedback), the candidate against production, the baseline, drift against the
   * reference, and this window in the version's drift history (a window that says nothing is not kept).
   */
  private async measureWindow(inputs: RunInputs, bounds: WindowBounds, id: string): Promise<Measurements> {
    const { feedback, version, samples, window, goldenAttempt } = inputs;
    const golden = goldenAttempt?.run;
    const goldenQuality = this.goldenSection(goldenAttempt);
    const matched = feedback.records.filter((record) => record.modelVersion === version);
    const feedbackQuality = qualitySection(
      'feedback',
      version,
      qualityMetrics(matched.map((record) => ({ truth: record.label, predicted: record.predicted }))),
      {
        ignored: { otherVersions: feedback.records.length - matched.length, unreadable: feedback.unreadable },
      },
    );
    const candidate = compareCandidate({
      answered: window.predictions,
      shadow: window.shadowPredictions,
      feedback: feedback.records,
      assignment: inputs.assignment,
      evaluatedVersion: version,
      settings: { alpha: this.config.candidate.alpha, minLabelled: this.config.quality.minSamples },
    });
    const baseline = await this.baseline(version, golden, goldenQuality, id);
    const { reference, drift } = await this.compare(version, samples, golden, id);

    let chain: DriftHistoryEntry[] = [];
    if (version !== null && drift.status !== 'no_reference' && !drift.insufficient) {
      const entry = {
        reportId: id,
        windowStart: bounds.start,
        windowEnd: bounds.end,
        drifted: drift.drifted,
      };
      chain = consecutiveWindows(await this.store.history(version), entry, this.config.drift.historyLength);
      await this.store.recordWindow(version, entry);
    }
    return {
      quality: { golden: goldenQuality, feedback: feedbackQuality },
      candidate,
      baseline,
      reference,
      drift,
      chain,
      // Golden quality is only comparable with this version's baseline when this version answered it.
      goldenComparable: golden !== undefined && golden.modelVersion === version,
    };
  }

  private decideRetrain(measured: Measurements, options: RunOptions) {
    const { quality } = this.config;
    return decide({
      requested: options.requestRetrain === true,
      quality: {
        feedback: qualitySummary(measured.quality.feedback),
        golden: measured.goldenComparable ? qualitySummary(measured.quality.golden) : undefined,
      },
      baseline: baselineFor(measured.baseline),
      chain: measured.chain,
      settings: {
        tolerance: quality.tolerance,
        minQualitySamples: quality.minSamples,
        absoluteAccuracyFloor: quality.absoluteAccuracyFloor,
        consecutiveWindows: this.config.drift.consecutiveWindows,
      },
    });
  }

  /** Exports the labelled examples (before any retrain request, so its snapshot holds every label so far), then asks for the retrain. */
  private async act(
    inputs: RunInputs,
    measured: Measurements,
    decision: ReturnType<typeof decide>,
    options: RunOptions,
    id: string,
    errors: string[],
  ): Promise<Pick<RunReport, 'model' | 'samples' | 'dataset' | 'retrain'>> {
    const { version, window, samples, stream, goldenAttempt } = inputs;
    const golden = goldenAttempt?.run;
    const partial = {
      id,
      model: {
        version,
        name:
          version === null
            ? null
            : (window.modelNames[version] ??
              (measured.goldenComparable ? (golden?.modelName ?? null) : null)),
      },
      samples: {
        entries: window.entries,
        evaluated: samples.length,
        golden: window.golden,
        malformed: window.malformed,
        duplicates: window.duplicates,
        shadow: window.shadow,
        otherVersions: window.predictions.length - samples.length,
        byVersion: window.byVersion,
        capped: stream.capped,
        trimmed: stream.trimmed,
      },
      reference: measured.reference,
      drift: measured.drift,
      quality: measured.quality,
      baseline: measured.baseline,
      decision,
      dataset: await this.exporter.export(decision.retrain),
    };
    this.metrics.datasetExported(partial.dataset);
    if (partial.dataset.error) errors.push(partial.dataset.error);
    let retrain: RetrainSection = { requested: false };
    // Measured rules need a model version; an operator's request does not (the window may hold no traffic).
    if (decision.retrain && (version !== null || options.requestRetrain === true)) {
      const result = await this.retrain.trigger(retrainRequest(partial));
      this.metrics.retrainRequested(result.outcome);
      retrain = retrainSection(result, this.retrain.dryRun);
      if (result.outcome === 'failed')
        errors.push(`retrain request failed: ${result.error ?? 'unknown error'}`);
    }
    return { model: partial.model, samples: partial.samples, dataset: partial.dataset, retrain };
  }

  /** The golden set's predictions or why it failed; undefined when there is no golden set. */
  private async runGolden(): Promise<GoldenAttempt | undefined> {
    if (!this.golden.enabled) return undefined;
    try {
      return { run: await this.golden.run() };
    } catch (error) {
      const message = `golden set: ${(error as Error).message}`;
      this.logger.warn(message);
      return { error: message };
    }
  }

  private goldenSection(attempt: GoldenAttempt | undefined): QualitySection {
    if (attempt === undefined) return { source: 'golden', status: 'disabled', modelVersion: null, count: 0 };
    const golden = attempt.run;
    if (!golden)
      return { source: 'golden', status: 'failed', modelVersion: null, count: 0, error: attempt.error };
    return qualitySection('golden', golden.modelVersion, qualityMetrics(golden.pairs), {
      durationMs: golden.durationMs,
      ...(golden.otherVersions > 0 && { ignored: { otherVersions: golden.otherVersions, unreadable: 0 } }),
    });
  }

  /**
   * BASELINE_MACRO_RECALL when set; otherwise the golden-set result of the version's first run, stored
   * per version (the first replica to store it wins).
   */
  private async baseline(
    version: string | null,
    golden: GoldenRun | undefined,
    goldenQuality: QualitySection,
    reportId: string,
  ): Promise<BaselineSection> {
    if (this.config.quality.baselineMacroRecall !== undefined) {
      return { source: 'config', macroRecall: this.config.quality.baselineMacroRecall, accuracy: null };
    }
    let created: { version: string; stored: BaselineSection } | undefined;
    const measured = qualitySummary(goldenQuality);
    if (golden && measured) {
      const existing = await this.store.getBaseline(golden.modelVersion);
      if (!existing) {
        const result = await this.store.createBaseline(golden.modelVersion, {
          macroRecall: measured.macroRecall,
          accuracy: measured.accuracy,
          count: measured.count,
          createdAt: new Date().toISOString(),
          reportId,
        });
        created = {
          version: golden.modelVersion,
          stored: { source: result.created ? 'created' : 'stored', ...fromStored(result.stored) },
        };
      }
    }
    if (version === null) return { source: 'none', macroRecall: null, accuracy: null };
    if (created?.version === version) return created.stored;
    const stored = await this.store.getBaseline(version);
    return stored
      ? { source: 'stored', ...fromStored(stored) }
      : { source: 'none', macroRecall: null, accuracy: null };
  }

  /** The version's reference (read, or built from this window or the golden set) and the window compared with it. */
  private async compare(
    version: string | null,
    samples: StreamPrediction[],
    golden: GoldenRun | undefined,
    reportId: string,
  ): Promise<{ reference: ReferenceSection; drift: DriftSection }> {
    const config = this.config.drift;
    const thresholds: Partial<DriftThresholds> = {
      alpha: config.alpha,
      correction: config.correction,
      labelJsDistance: config.labelJsDistance,
      minWindowSamples: config.minWindowSamples,
      minReferenceSamples: config.minReferenceSamples,
    };
    const noReference = (message: string): { reference: ReferenceSection; drift: DriftSection } => ({
      reference: { status: 'missing', message },
      drift: {
        status: 'no_reference',
        drifted: false,
        insufficient: true,
        reasons: [],
        windowCount: samples.length,
        referenceCount: null,
      },
    });
    if (version === null)
      return noReference('no predictions in the window and no golden set: nothing to evaluate');

    let stored = await this.store.getProfile(version);
    let reference: ReferenceSection;
    if (stored) {
      reference = {
        status: 'stored',
        ...describe(stored),
        message: `reference of ${version} read from Redis`,
      };
    } else {
      const fromGolden = config.referenceSource === 'golden';
      const candidates =
        fromGolden && golden && golden.modelVersion === version
          ? golden.predictions
          : fromGolden
            ? []
            : samples;
      const what = fromGolden ? 'golden-set predictions' : 'predictions in the window';
      if (candidates.length < config.minReferenceSamples) {
        return noReference(
          `no reference for ${version} yet: it is built from the first ${fromGolden ? 'golden set' : 'window'} with at ` +
            `least ${config.minReferenceSamples} ${what} (this one has ${candidates.length})`,
        );
      }
      const result = await this.store.createProfile(version, {
        profile: buildProfile(candidates, { modelVersion: version }),
        source: config.referenceSource,
        createdAt: new Date().toISOString(),
        reportId,
      });
      stored = result.stored;
      reference = result.created
        ? {
            status: 'created',
            ...describe(stored),
            message: `no reference for ${version}: built one from ${candidates.length} ${what} and stored it`,
          }
        : {
            status: 'stored',
            ...describe(stored),
            message: `reference of ${version} stored meanwhile by another run`,
          };
      if (result.created && !fromGolden) {
        // Comparing the window with itself would prove nothing: it is the clean window by definition.
        return {
          reference,
          drift: {
            status: 'reference_created',
            drifted: false,
            insufficient: false,
            reasons: [],
            windowCount: samples.length,
            referenceCount: stored.profile.count,
          },
        };
      }
    }
    return { reference, drift: driftSection(compareToProfile(stored.profile, samples, thresholds)) };
  }
}

interface GoldenAttempt {
  run?: GoldenRun;
  error?: string;
}

/** What a run reads: the window's stream and feedback, the assignment, the golden set's answers. */
interface RunInputs {
  stream: Awaited<ReturnType<DriftStore['readStream']>>;
  feedback: Awaited<ReturnType<DriftStore['readFeedback']>>;
  assignment: Awaited<ReturnType<DriftStore['readAssignment']>>;
  goldenAttempt: GoldenAttempt | undefined;
  window: WindowContents;
  /** The model version the window is evaluated for (null: no traffic and no golden answers). */
  version: string | null;
  /** That version's predictions in the window. */
  samples: StreamPrediction[];
}

/** What a run measures from its inputs. */
interface Measurements {
  quality: { golden: QualitySection; feedback: QualitySection };
  candidate: ReturnType<typeof compareCandidate>;
  baseline: BaselineSection;
  reference: ReferenceSection;
  drift: DriftSection;
  /** This version's consecutive drift history, this window included. */
  chain: DriftHistoryEntry[];
  goldenComparable: boolean;
}

function describe(
  stored: StoredProfile,
): Pick<ReferenceSection, 'source' | 'count' | 'createdAt' | 'createdBy'> {
  return {
    source: stored.source,
    count: stored.profile.count,
    createdAt: stored.createdAt,
    createdBy: stored.reportId,
  };
}

function fromStored(stored: {
  macroRecall: number;
  accuracy: number;
  count: number;
  createdAt: string;
  reportId: string;
}): Omit<BaselineSection, 'source'> {
  return {
    macroRecall: stored.macroRecall,
    accuracy: stored.accuracy,
    count: stored.count,
    createdAt: stored.createdAt,
    createdBy: stored.reportId,
  };
}

function baselineFor(section: BaselineSection): Baseline | undefined {
  return section.macroRecall === null
    ? undefined
    : { macroRecall: section.macroRecall, accuracy: section.accuracy };
}
