import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { QueueName } from '@reputation-monitor/contracts';
import {
  BATCH_TEXTS_BUCKETS,
  BATCH_TOKENS_BUCKETS,
  COMPUTE_BUCKETS_SECONDS,
  QUEUE_WAIT_BUCKETS_SECONDS,
  RATIO_BUCKETS,
  boundedLabel,
  TracedHistogram,
  createAppRegistry,
} from '@reputation-monitor/observability';
import type { GraphQuantization } from '@reputation-monitor/onnx-graph';
import type { BatchStats } from './micro-batcher';
import { WORKER_CONFIG } from './tokens';
import type { WorkerConfig } from './worker-config';

/** A switch waits for pub/sub (ms) or a poll (seconds) plus a load and warm-up (seconds to a minute for big graphs). */
export const SWITCH_BUCKETS_SECONDS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300];

/** Why a job failed, as a bounded label. */
const FAILURE_REASONS = ['invalid_payload', 'unknown_job', 'inference', 'other'] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/** What a result-cache lookup found for one text (`error`: Redis failed, the text went to inference). */
export const CACHE_LOOKUP_OUTCOMES = ['hit', 'miss', 'error'] as const;
export type CacheLookupOutcome = (typeof CACHE_LOOKUP_OUTCOMES)[number];
/** The Redis round trip of the result cache that failed. */
export const CACHE_OPERATIONS = ['lookup', 'store'] as const;
export type CacheOperation = (typeof CACHE_OPERATIONS)[number];

/** A served model version for the model-info metrics. */
export interface ServedModelLabels {
  name: string;
  version: string;
  dtype: string;
  role: string;
  /** The graph's quantization as LoadedModel read it; absent or undefined: unknown. */
  quantization?: (GraphQuantization & { slowForCpu: boolean }) | undefined;
  /** Inference lanes (runs at once) and whether a solo lane takes lone runs; absent: not reported. */
  lanes?: { count: number; solo: boolean };
}

/**
 * The quantization labels, each from a closed set: `ops` joins op types from QUANTIZED_OP_TYPES (onnx-graph),
 * so even every combination stays a bounded label.
 */
export function quantizationLabels(
  quantization: ServedModelLabels['quantization'],
): Record<'weight_type' | 'per_channel' | 'ops' | 'slow_for_cpu', string> {
  if (!quantization)
    return { weight_type: 'unknown', per_channel: 'unknown', ops: 'unknown', slow_for_cpu: 'false' };
  return {
    weight_type: quantization.weightType,
    per_channel: quantization.perChannel === undefined ? 'none' : String(quantization.perChannel),
    ops: quantization.opTypes.join('+') || 'none',
    slow_for_cpu: String(quantization.slowForCpu),
  };
}

/** The worker's Prometheus metrics, served on the health port at /metrics. */
@Injectable()
export class WorkerMetrics {
  readonly registry: Registry = createAppRegistry('inference-worker');
  private readonly sources: ReadonlySet<string>;

  // A trace id per bucket while tracing is on: a slow queue wait in Grafana opens the request's trace.
  private readonly queueWait = new TracedHistogram({
    name: 'sentiment_queue_wait_seconds',
    help: 'Time from enqueue to a worker picking the job up.',
    labelNames: ['queue'],
    buckets: QUEUE_WAIT_BUCKETS_SECONDS,
    registers: [this.registry],
  });
  private readonly tokenization = new Histogram({
    name: 'sentiment_tokenization_seconds',
    help: 'Time to tokenize the texts of one job.',
    buckets: COMPUTE_BUCKETS_SECONDS,
    registers: [this.registry],
  });
  private readonly batchDuration = new Histogram({
    name: 'sentiment_inference_batch_duration_seconds',
    help: 'ONNX Runtime time for one inference batch.',
    buckets: COMPUTE_BUCKETS_SECONDS,
    registers: [this.registry],
  });
  private readonly batchTexts = new Histogram({
    name: 'sentiment_inference_batch_texts',
    help: 'Texts per inference batch.',
    buckets: BATCH_TEXTS_BUCKETS,
    registers: [this.registry],
  });
  private readonly batchTokens = new Histogram({
    name: 'sentiment_inference_batch_padded_tokens',
    help: 'Padded tokens (texts x longest text) per inference batch.',
    buckets: BATCH_TOKENS_BUCKETS,
    registers: [this.registry],
  });
  private readonly batchPadding = new Histogram({
    name: 'sentiment_inference_batch_padding_ratio',
    help: 'Share of pad tokens in an inference batch.',
    buckets: RATIO_BUCKETS,
    registers: [this.registry],
  });
  // The packing policy's cost model (libs/model-runtime packing-policy.ts): a run costs overhead + per token x padded tokens.
  private readonly runOverhead = new Gauge({
    name: 'sentiment_inference_run_overhead_seconds',
    help: "The packing policy's estimate of what one inference run costs besides its padded tokens.",
    registers: [this.registry],
  });
  private readonly runPerToken = new Gauge({
    name: 'sentiment_inference_run_seconds_per_token',
    help: "The packing policy's estimate of what one padded token of an inference run costs.",
    registers: [this.registry],
  });
  private readonly batchSplits = new Counter({
    name: 'sentiment_inference_batch_splits_total',
    help: 'Failed inference batches of several texts retried in halves to isolate the texts that fail.',
    registers: [this.registry],
  });
  private readonly busy = new Counter({
    name: 'sentiment_inference_busy_seconds_total',
    help: 'Seconds of model computation, summed over the inference lanes; its rate divided by sentiment_inference_lanes is the busy ratio.',
    registers: [this.registry],
  });
  private readonly predictions = new Counter({
    name: 'sentiment_predictions_total',
    help: 'Predictions by label and source (sources outside METRIC_SOURCES count as other).',
    labelNames: ['label', 'source'],
    registers: [this.registry],
  });
  private readonly failures = new Counter({
    name: 'sentiment_failed_jobs_total',
    help: 'Failed job attempts by reason.',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  // Counted per text, so hit / (hit + miss + error) is the share of texts served without inference.
  private readonly cacheLookups = new Counter({
    name: 'sentiment_result_cache_lookups_total',
    help: 'Texts looked up in the duplicate-result cache, by outcome (hit, miss, or error: Redis failed).',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  private readonly cacheErrors = new Counter({
    name: 'sentiment_result_cache_errors_total',
    help: 'Failed Redis round trips of the duplicate-result cache, by operation; the jobs went on without it.',
    labelNames: ['operation'],
    registers: [this.registry],
  });
  private readonly deduplicated = new Counter({
    name: 'sentiment_inference_deduplicated_texts_total',
    help: 'Texts not sent to inference because an identical text was already being computed.',
    registers: [this.registry],
  });
  private readonly modelInfo = new Gauge({
    name: 'sentiment_model_info',
    help: 'The model versions this worker serves and their roles (production, candidate-shadow, candidate-canary); value 1.',
    labelNames: ['name', 'version', 'dtype', 'role'],
    registers: [this.registry],
  });
  private readonly modelQuantization = new Gauge({
    name: 'sentiment_model_quantization_info',
    help:
      'How each served graph is quantized: weight_type (int8, uint8, mixed, other, none, unknown), per_channel, ' +
      'the quantized op types, and slow_for_cpu (uint8 weights on a CPU where int8 runs about twice as fast); value 1.',
    labelNames: ['name', 'version', 'weight_type', 'per_channel', 'ops', 'slow_for_cpu'],
    registers: [this.registry],
  });
  private readonly lanes = new Gauge({
    name: 'sentiment_inference_lanes',
    help: 'Inference runs each served model computes at once (its lanes); solo_lane: a session with every core takes lone runs.',
    labelNames: ['name', 'version', 'solo_lane'],
    registers: [this.registry],
  });
  private readonly reloads = new Counter({
    name: 'sentiment_model_reloads_total',
    help: 'Model assignment changes this worker applied (success) or refused (failed: the old versions kept serving).',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  private readonly switchSeconds = new Histogram({
    name: 'sentiment_model_switch_seconds',
    help: 'Time from an assignment change being written to this worker serving it.',
    buckets: SWITCH_BUCKETS_SECONDS,
    registers: [this.registry],
  });
  private readonly shadowTexts = new Counter({
    name: 'sentiment_shadow_texts_total',
    help: 'Texts scored by the second model of a shadow/canary pair (scored), dropped when its queue was full, or whose scoring failed.',
    labelNames: ['outcome'],
    registers: [this.registry],
  });

  constructor(@Inject(WORKER_CONFIG) config: WorkerConfig) {
    this.sources = new Set(config.metricSources);
    // Every reason from the start, so rates read 0 rather than nothing before the first failure.
    for (const reason of FAILURE_REASONS) this.failures.inc({ reason }, 0);
    for (const outcome of CACHE_LOOKUP_OUTCOMES) this.cacheLookups.inc({ outcome }, 0);
    for (const operation of CACHE_OPERATIONS) this.cacheErrors.inc({ operation }, 0);
    for (const outcome of ['success', 'failed']) this.reloads.inc({ outcome }, 0);
    for (const outcome of ['scored', 'dropped', 'failed']) this.shadowTexts.inc({ outcome }, 0);
  }

  models(serving: ReadonlyArray<ServedModelLabels>): void {
    this.modelInfo.reset();
    this.modelQuantization.reset();
    this.lanes.reset();
    for (const { quantization, lanes, ...labels } of serving) {
      this.modelInfo.set(labels, 1);
      if (lanes)
        this.lanes.set(
          { name: labels.name, version: labels.version, solo_lane: String(lanes.solo) },
          lanes.count,
        );
      this.modelQuantization.set(
        { name: labels.name, version: labels.version, ...quantizationLabels(quantization) },
        1,
      );
    }
  }

  reloaded(outcome: 'success' | 'failed'): void {
    this.reloads.inc({ outcome });
  }

  switched(seconds: number): void {
    this.switchSeconds.observe(Math.max(0, seconds));
  }

  shadowScored(texts: number): void {
    if (texts > 0) this.shadowTexts.inc({ outcome: 'scored' }, texts);
  }

  shadowDropped(texts: number): void {
    if (texts > 0) this.shadowTexts.inc({ outcome: 'dropped' }, texts);
  }

  /** Texts the second model did not score because its run or the prediction log failed. */
  shadowFailed(texts: number): void {
    if (texts > 0) this.shadowTexts.inc({ outcome: 'failed' }, texts);
  }

  pickedUp(waitMs: number): void {
    this.queueWait.observe({ queue: QueueName.Sentiment }, waitMs / 1000);
  }

  tokenized(ms: number): void {
    this.tokenization.observe(ms / 1000);
  }

  batch(stats: BatchStats): void {
    this.batchDuration.observe(stats.computeMs / 1000);
    this.busy.inc(stats.computeMs / 1000);
    this.batchTexts.observe(stats.texts);
    this.batchTokens.observe(stats.paddedTokens);
    this.batchPadding.observe(1 - stats.realTokens / stats.paddedTokens);
    if (stats.runCost) {
      this.runOverhead.set(stats.runCost.overheadMs / 1000);
      this.runPerToken.set(stats.runCost.perTokenMs / 1000);
    }
  }

  /** A failed batch was split in halves (poison isolation in the micro-batcher). */
  batchSplit(): void {
    this.batchSplits.inc();
  }

  predicted(label: string, source: string | undefined): void {
    this.predictions.inc({ label, source: boundedLabel(source, this.sources) });
  }

  failed(reason: FailureReason): void {
    this.failures.inc({ reason });
  }

  cacheLookedUp(outcome: CacheLookupOutcome, texts: number): void {
    if (texts > 0) this.cacheLookups.inc({ outcome }, texts);
  }

  cacheFailed(operation: CacheOperation): void {
    this.cacheErrors.inc({ operation });
  }

  textsDeduplicated(texts: number): void {
    if (texts > 0) this.deduplicated.inc(texts);
  }
}
