import { Inject, Injectable, Logger } from '@nestjs/common';
import { Prediction, TextItem } from '@reputation-monitor/contracts';
import { PredictionLog } from '@reputation-monitor/prediction-store';
import { LoadedModel } from './loaded-model';
import { ModelManager } from './model-manager';
import { ResultCache } from './result-cache';
import { WORKER_CONFIG } from './tokens';
import { WorkerMetrics } from './worker-metrics';
import type { WorkerConfig } from './worker-config';

interface ShadowWork {
  model: LoadedModel;
  items: readonly TextItem[];
  source: string | undefined;
  jobId: string | undefined;
  tenant?: string;
  release: () => void;
}

/** The longest a waiting shadow job sleeps before looking again whether the answering models are quiet. */
const IDLE_POLL_MS = 20;

/**
 * Scores a job's texts with the second model of a shadow/canary pair after the job has been answered, and
 * records those predictions with role `shadow`: clients never wait for it. A shadow batch starts only after
 * the answering models have been idle for SHADOW_IDLE_MS: on a CPU-bound host a shadow batch running when a
 * request arrives would delay it (measured: idle p50 1.30x with no quiet spell required), so shadow work takes
 * the quiet spells, not the time between two requests of a busy client. It is bounded
 * (SHADOW_QUEUE_MAX_TEXTS), and what does not fit is dropped and counted rather than held.
 */
@Injectable()
export class ShadowScorer {
  private readonly logger = new Logger(ShadowScorer.name);
  private readonly queue: ShadowWork[] = [];
  private queuedTexts = 0;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];
  private closed = false;

  constructor(
    private readonly models: ModelManager,
    private readonly cache: ResultCache,
    private readonly log: PredictionLog,
    private readonly metrics: WorkerMetrics,
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
  ) {
    // A model leaving (a switch, a cleared candidate) must not wait for shadow work that only runs when idle.
    models.onRetiring((model) => this.dropFor(model));
  }

  enqueue(work: ShadowWork): void {
    // A retiring model waits for its users: work that would only run in a quiet spell must not hold it.
    if (
      this.closed ||
      work.model.retiring ||
      this.queuedTexts + work.items.length > this.config.shadowQueueMaxTexts
    ) {
      work.release();
      this.metrics.shadowDropped(work.items.length);
      return;
    }
    this.queue.push(work);
    this.queuedTexts += work.items.length;
    this.pump();
  }

  /** Resolves once nothing is queued or running (tests, shutdown). */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops the queued work for one model (it is being retired). */
  private dropFor(model: LoadedModel): void {
    const dropped = this.queue.filter((work) => work.model === model);
    if (dropped.length === 0) return;
    this.queue.splice(0, this.queue.length, ...this.queue.filter((work) => work.model !== model));
    for (const work of dropped) {
      this.queuedTexts -= work.items.length;
      work.release();
    }
    this.metrics.shadowDropped(dropped.reduce((sum, work) => sum + work.items.length, 0));
  }

  /** Drops what waits (shutdown): shadow predictions are measurements, not answers anybody waits for. */
  clear(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    const dropped = this.queue.splice(0);
    this.queuedTexts = 0;
    for (const work of dropped) work.release();
    this.metrics.shadowDropped(dropped.reduce((sum, work) => sum + work.items.length, 0));
    if (!this.running) this.idleWaiters.splice(0).forEach((resolve) => resolve());
  }

  private pump(): void {
    if (this.running || this.timer) return;
    if (this.queue.length === 0) {
      this.idleWaiters.splice(0).forEach((resolve) => resolve());
      return;
    }
    const quietFor = this.models.foregroundIdleMs;
    if (quietFor < this.config.shadowIdleMs) {
      this.timer = setTimeout(
        () => {
          this.timer = undefined;
          this.pump();
        },
        Math.min(IDLE_POLL_MS, this.config.shadowIdleMs - quietFor),
      );
      return;
    }
    const work = this.queue.shift()!;
    this.queuedTexts -= work.items.length;
    if (work.model.retiring) {
      work.release();
      this.metrics.shadowDropped(work.items.length);
      this.pump();
      return;
    }
    this.running = true;
    this.score(work)
      .catch((error: Error) => {
        this.metrics.shadowFailed(work.items.length);
        this.logger.warn(`shadow scoring with ${work.model.info.version} failed: ${error.message}`);
      })
      .finally(() => {
        work.release();
        this.running = false;
        this.pump();
      });
  }

  private async score(work: ShadowWork): Promise<void> {
    const { model, items } = work;
    const scored = await this.cache.score(
      model.info.version,
      items.map((item) => item.text),
      (misses) => model.score(misses),
    );
    const predictions: Prediction[] = scored.map((score, index) => ({ id: items[index].id, ...score }));
    // Not indexed: feedback on these ids labels what the client got, not this.
    await this.log.append([
      {
        predictions,
        model: model.info,
        source: work.source,
        at: Date.now(),
        jobId: work.jobId,
        tenant: work.tenant,
        role: 'shadow',
        index: false,
      },
    ]);
    this.metrics.shadowScored(predictions.length);
  }
}
