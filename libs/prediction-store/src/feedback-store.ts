import type { Redis } from 'ioredis';
import {
  FeedbackRecord,
  IndexedPrediction,
  decodeFeedbackRecord,
  decodeIndexedPrediction,
  encodeFeedbackRecord,
  predictionIndexBucket,
  redisKeys,
} from '@reputation-monitor/contracts';
import type { WindowBounds } from './prediction-log';

/** Feedback records read per MGET. */
const FEEDBACK_PAGE = 1_000;

/**
 * Human labels for earlier predictions: written by the gateway, read by the drift monitor for the quality
 * of each window. One record per prediction id (a second label replaces the first) and a time index.
 */
export class FeedbackStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** The indexed prediction of each id, newest hour first; undefined where none is indexed. */
  async lookUp(ids: readonly string[], indexHours: number): Promise<Array<IndexedPrediction | undefined>> {
    if (indexHours === 0) return ids.map(() => undefined);
    const current = predictionIndexBucket(Date.now());
    const buckets = Array.from({ length: indexHours + 1 }, (_, back) =>
      redisKeys.predictionIndex(this.prefix, current - back),
    );
    const pipeline = this.redis.pipeline();
    for (const id of ids) for (const bucket of buckets) pipeline.hget(bucket, id);
    const replies = (await pipeline.exec()) ?? [];
    return ids.map((_, index) => {
      for (let back = 0; back < buckets.length; back++) {
        const [error, value] = replies[index * buckets.length + back];
        if (error) throw error;
        if (typeof value === 'string') return decodeIndexedPrediction(value);
      }
      return undefined;
    });
  }

  /** Stores the records; for each, whether it replaced an earlier label of the same prediction. */
  async save(records: readonly FeedbackRecord[], ttlSeconds: number): Promise<boolean[]> {
    if (records.length === 0) return [];
    const now = Date.now();
    const byTime = redisKeys.feedbackByTime(this.prefix);
    const pipeline = this.redis.pipeline();
    for (const record of records) {
      pipeline.set(
        redisKeys.feedback(this.prefix, record.id),
        encodeFeedbackRecord(record),
        'EX',
        ttlSeconds,
        'GET',
      );
      pipeline.zadd(byTime, record.at, record.id);
    }
    // Keep the time index as long as the records it points at.
    pipeline.zremrangebyscore(byTime, 0, now - ttlSeconds * 1000);
    const replies = (await pipeline.exec()) ?? [];
    return records.map((_, index) => {
      const [error, previous] = replies[index * 2];
      if (error) throw error;
      return previous !== null;
    });
  }

  /** Labels given during the window (by the time of the label), with unreadable or expired ones counted. */
  async readWindow(
    bounds: WindowBounds,
    max: number,
  ): Promise<{ records: FeedbackRecord[]; unreadable: number }> {
    const ids = await this.redis.zrangebyscore(
      redisKeys.feedbackByTime(this.prefix),
      bounds.start,
      `(${bounds.end}`,
      'LIMIT',
      0,
      max,
    );
    const records: FeedbackRecord[] = [];
    let unreadable = 0;
    for (let i = 0; i < ids.length; i += FEEDBACK_PAGE) {
      const keys = ids.slice(i, i + FEEDBACK_PAGE).map((id) => redisKeys.feedback(this.prefix, id));
      for (const value of await this.redis.mget(...keys)) {
        const record = value === null ? undefined : decodeFeedbackRecord(value);
        if (record) records.push(record);
        else unreadable++;
      }
    }
    return { records, unreadable };
  }
}
