import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { DatasetStore, SnapshotRef, newBatchId } from '@reputation-monitor/dataset-store';
import { ExampleBuffer } from '@reputation-monitor/prediction-store';
import type { DriftConfig } from './drift-config';
import { DRIFT_CONFIG } from './tokens';

/**
 * exported: a batch became a new snapshot (or an earlier attempt's batch was found already in the store);
 * waiting: fewer pending examples than EXPORT_MIN_EXAMPLES and none older than EXPORT_MAX_WAIT_HOURS;
 * unchanged: nothing was pending; failed: the store or Redis failed (the batch waits for the next run);
 * disabled: DATASET_STORE=off.
 */
export type ExportStatus = 'exported' | 'waiting' | 'unchanged' | 'failed' | 'disabled';
export const EXPORT_STATUSES: readonly ExportStatus[] = [
  'exported',
  'waiting',
  'unchanged',
  'failed',
  'disabled',
];

export interface DatasetSection {
  status: ExportStatus;
  /** The store's location, null when disabled. */
  store: string | null;
  /** Examples waiting in Redis before this run's export. */
  pending: number;
  /** `resumed`: the batch an earlier run took and could not finish. */
  batch?: { id: string; examples: number; unreadable: number; written: boolean; resumed?: true };
  /** A forced export that first finished an earlier run's batch: that batch (`batch` is the one after it). */
  resumedBatch?: DatasetSection['batch'];
  /** The latest snapshot after the export: what a retrain requested by this run uses. */
  snapshot?: SnapshotRef;
  error?: string;
}

/**
 * Moves labelled examples from the Redis buffer to the dataset store, one immutable shard per batch.
 * It runs inside the drift run's lease, so one replica at a time exports; with the buffer's batch ids and
 * the store's idempotent append, every example lands exactly once even when a replica dies mid-export.
 */
@Injectable()
export class DatasetExporter {
  private readonly logger = new Logger('DatasetExporter');

  constructor(
    private readonly buffer: ExampleBuffer,
    @Optional() @Inject(DatasetStore) private readonly store: DatasetStore | null,
    @Inject(DRIFT_CONFIG) private readonly config: DriftConfig,
  ) {}

  get enabled(): boolean {
    return this.store !== null && this.store !== undefined;
  }

  /**
   * `force`: export whatever is pending (a retrain is about to be requested and must see it). A batch an earlier
   * run left unfinished goes first; when forced, the examples pending behind it follow in a batch of their own,
   * so the snapshot a retrain gets holds them too.
   */
  async export(force: boolean, now = Date.now()): Promise<DatasetSection> {
    const section = await this.exportOnce(force, now);
    if (!force || section.status !== 'exported' || !section.batch?.resumed) return section;
    const behind = await this.exportOnce(force, now);
    if (behind.status === 'exported') return { ...behind, resumedBatch: section.batch };
    // The retrain still gets the snapshot the first export made; the report says what failed behind it.
    return behind.error ? { ...section, error: behind.error } : section;
  }

  private async exportOnce(force: boolean, now: number): Promise<DatasetSection> {
    const store = this.store;
    if (!store) return { status: 'disabled', store: null, pending: 0 };
    let pending = 0;
    try {
      pending = await this.buffer.pendingCount();
      if (!force && pending < this.config.dataset.minExamples) {
        const oldest = await this.buffer.oldestPendingAt();
        const due = oldest !== undefined && now - oldest >= this.config.dataset.maxWaitHours * 3_600_000;
        if (!due && !(await this.buffer.exportInProgress())) {
          return {
            status: pending === 0 ? 'unchanged' : 'waiting',
            store: store.location,
            pending,
            ...(await this.head()),
          };
        }
      }
      const batchId = newBatchId(new Date(now));
      const batch = await this.buffer.beginExport(batchId);
      if (!batch) return { status: 'unchanged', store: store.location, pending, ...(await this.head()) };
      if (batch.examples.length === 0) {
        // Everything in it was deleted or unreadable: nothing to write, but the batch must not linger. An
        // earlier run's batch was in the way of what is pending: that goes next, as it would have.
        await this.buffer.finishExport(batch);
        if (batch.batchId !== batchId) return this.exportOnce(force, now);
        return { status: 'unchanged', store: store.location, pending, ...(await this.head()) };
      }
      const { snapshot, written } = await store.appendBatch(batch.batchId, batch.examples);
      await this.buffer.finishExport(batch);
      this.logger.log(
        `${written ? 'exported' : 'found already exported'} batch ${batch.batchId} (${batch.examples.length} examples): ` +
          `${snapshot.ref.location} holds ${snapshot.ref.examples}`,
      );
      return {
        status: 'exported',
        store: store.location,
        pending,
        batch: {
          id: batch.batchId,
          examples: batch.examples.length,
          unreadable: batch.unreadable,
          written,
          ...(batch.batchId !== batchId && { resumed: true }),
        },
        snapshot: snapshot.ref,
      };
    } catch (error) {
      const message = `dataset export: ${(error as Error).message}`;
      this.logger.warn(message);
      return { status: 'failed', store: store.location, pending, error: message };
    }
  }

  private async head(): Promise<{ snapshot?: SnapshotRef }> {
    const head = await this.store!.head();
    return head ? { snapshot: head.ref } : {};
  }
}
