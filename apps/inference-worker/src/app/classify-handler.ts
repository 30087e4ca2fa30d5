import { Inject, Injectable, Logger } from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import { Job, UnrecoverableError } from 'bullmq';
import { ClassifyJobResult, Prediction, checkClassifyPayload } from '@reputation-monitor/contracts';
import { PredictionLog } from '@reputation-monitor/prediction-store';
import { ModelManager } from './model-manager';
import { ResultCache } from './result-cache';
import { ShadowScorer } from './shadow-scorer';
import { WORKER_CONFIG } from './tokens';
import { WorkerMetrics } from './worker-metrics';
import type { WorkerConfig } from './worker-config';

export const INVALID_PAYLOAD = 'invalid job payload';

const tracer = trace.getTracer('inference-worker');

/**
 * Handles `classify` jobs: validate, score (from the duplicate-result cache, else through the shared
 * batcher), record, return. Cached and computed predictions look the same and are recorded the same way.
 */
@Injectable()
export class ClassifyHandler {
  private readonly logger = new Logger('ClassifyHandler');

  constructor(
    private readonly models: ModelManager,
    private readonly shadow: ShadowScorer,
    private readonly cache: ResultCache,
    private readonly log: PredictionLog,
    private readonly metrics: WorkerMetrics,
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
  ) {}

  async handle(job: Job): Promise<ClassifyJobResult> {
    const pickedUp = Date.now();
    const check = checkClassifyPayload(job.data, this.config.maxTextChars, this.config.maxBatchItems);
    // A malformed payload fails the same way every time: fail at once, no retries.
    if (!check.ok) throw new UnrecoverableError(`${INVALID_PAYLOAD}: ${check.reason}`);
    const { items, source, enqueuedAt, tenant, requestId } = check.payload;
    this.metrics.pickedUp(Math.max(0, (job.processedOn ?? pickedUp) - enqueuedAt));

    // The version is chosen once per job (sticky by job id) and kept until the job is done with it.
    const route = this.models.route(job.id ?? '');
    let predictions: Prediction[];
    let done: number;
    const model = route.answer.info;
    try {
      // One span for the texts' scores (cache lookups, then the micro-batch the misses joined, linked).
      const scored = await tracer.startActiveSpan('score texts', async (span) => {
        span.setAttributes({ 'sentiment.texts': items.length, 'sentiment.model.version': model.version });
        try {
          return await this.cache.score(
            model.version,
            items.map((item) => item.text),
            (misses) => route.answer.score(misses),
          );
        } finally {
          span.end();
        }
      });
      // Every prediction, hit or not, goes to the stream and the index: drift and feedback by id see them all.
      predictions = scored.map((score, index) => ({ id: items[index].id, ...score }));
      done = Date.now();
      await this.log.append([
        { predictions, model, source, at: done, jobId: job.id, tenant, requestId, role: route.role },
      ]);
    } catch (error) {
      route.releaseShadow();
      throw error;
    } finally {
      route.release();
    }
    if (route.shadow) {
      this.shadow.enqueue({
        model: route.shadow,
        items,
        source,
        jobId: job.id,
        tenant,
        release: route.releaseShadow,
      });
    }
    for (const prediction of predictions) this.metrics.predicted(prediction.label, source);
    const timings = {
      queueMs: Math.max(0, (job.processedOn ?? pickedUp) - enqueuedAt),
      processingMs: done - pickedUp,
    };
    // One line per job (never its texts), findable by the request id the gateway logged and returned.
    this.logger.log(
      {
        requestId,
        jobId: job.id,
        attempt: job.attemptsMade + 1,
        texts: items.length,
        ...timings,
        model: model.version,
      },
      'job done',
    );
    return { v: 1, model, predictions, timings };
  }
}
