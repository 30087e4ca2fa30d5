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
import { CappedHashRing } from '@reputation-monitor/redis-connection';
import type { WindowBounds } from './prediction-log';

/** Feedback records read per MGET. */
const FEEDBACK_PAGE = 1_000;

/** Labels kept at most unless told otherwise (FEEDBACK_MAX_RECORDS); the oldest go first. */
export const DEFAULT_FEEDBACK_MAX_RECORDS = 100_000;

/**
 * Drops the oldest labels beyond the cap: their time-index entries and their records.
 * KEYS: feedback-by-time. ARGV: most records kept, the record keys' prefix. Returns how many were dropped.
 */
const TRIM = `
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[1])
if over <= 0 then return 0 end
local oldest = redis.call('ZPOPMIN', KEYS[1], over)
for i = 1, #oldest, 2 do redis.call('UNLINK', ARGV[2] .. oldest[i]) end
return over`;

/**
 * Human labels for earlier predictions: written by the gateway, read by the drift monitor for the quality
 * of each window. One record per prediction id (a second label replaces the first) and a time index, at
 * most `maxRecords` of them (the oldest are dropped first) and none older than the TTL.
 */
export class FeedbackStore {
  private readonly index: CappedHashRing;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    this.index = new CappedHashRing(redis, { key: redisKeys.predictionIndex(prefix) });
  }

  /**
   * The indexed prediction of each id (the newest entry), undefined where none is indexed. Ids the ring
   * does not hold are also looked for in the hourly hashes workers wrote before it, for as long as those last.
   */
  async lookUp(ids: readonly string[], indexHours: number): Promise<Array<IndexedPrediction | undefined>> {
    if (indexHours === 0) return ids.map(() => undefined);
    const found = (await this.index.get(ids)).map((value) =>
      value === undefined ? undefined : decodeIndexedPrediction(value),
    );
    const missing = ids.flatMap((_, index) => (found[index] === undefined ? [index] : []));
    if (missing.length === 0) return found;
    // TODO(after PREDICTION_INDEX_HOURS past the upgrade of every worker): drop this legacy read.
    const current = predictionIndexBucket(Date.now());
    const buckets = Array.from({ length: indexHours + 1 }, (_, back) =>
      redisKeys.legacyPredictionIndexHour(this.prefix, current - back),
    );
    const pipeline = this.redis.pipeline();
    for (const index of missing) for (const bucket of buckets) pipeline.hget(bucket, ids[index]);
    const replies = (await pipeline.exec()) ?? [];
    missing.forEach((index, position) => {
      for (let back = 0; back < buckets.length; back++) {
        const [error, value] = replies[position * buckets.length + back];
        if (error) throw error;
        if (typeof value === 'string') {
          found[index] = decodeIndexedPrediction(value);
          return;
        }
      }
    });
    return found;
  }

  /**
   * Stores the records; for each, whether it replaced an earlier label of the same prediction. Then drops
   * the oldest labels beyond `maxRecords`.
   */
  async save(
    records: readonly FeedbackRecord[],
    ttlSeconds: number,
    maxRecords = DEFAULT_FEEDBACK_MAX_RECORDS,
  ): Promise<boolean[]> {
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
    // Keep the time index as long as the records it points at, and no longer than the cap allows.
    pipeline.zremrangebyscore(byTime, 0, now - ttlSeconds * 1000);
    pipeline.eval(TRIM, 1, byTime, maxRecords, redisKeys.feedback(this.prefix, ''));
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
