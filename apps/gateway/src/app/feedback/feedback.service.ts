import { Inject, Injectable } from '@nestjs/common';
import {
  FeedbackRecord,
  FieldError,
  IndexedPrediction,
  SENTIMENT_LABELS,
  SentimentLabel,
  clientIdProblem,
  decodeIndexedPrediction,
  parseLabel,
  predictionIndexBucket,
  redisKeys,
} from '@reputation-monitor/contracts';
import { SentimentProducer } from '@reputation-monitor/producer-client';
import { validationProblem } from '@reputation-monitor/http-edge';
import { GATEWAY_CONFIG } from '../tokens';
import type { GatewayConfig } from '../gateway-config';

export type FeedbackStatus = 'stored' | 'replaced' | 'not_found';

export interface FeedbackResult {
  id: string;
  status: FeedbackStatus;
  label?: SentimentLabel;
  predicted?: SentimentLabel;
  modelVersion?: string;
}

const ALLOWED = `must be one of ${SENTIMENT_LABELS.join(', ')} (any case) or 0, 1, 2`;

/** Stores human labels for earlier predictions, for the drift monitor's quality measures. */
@Injectable()
export class FeedbackService {
  constructor(
    private readonly producer: SentimentProducer,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  /** Validates every item (422 naming each field), then stores those whose prediction is known. */
  async submit(
    items: ReadonlyArray<{ id: string; label: unknown }>,
    fieldPrefix: (index: number) => string,
  ): Promise<FeedbackResult[]> {
    const errors: FieldError[] = [];
    const labels = items.map((item, index) => {
      const idIssue = clientIdProblem(item.id);
      if (idIssue) errors.push({ field: `${fieldPrefix(index)}id`, message: idIssue });
      const label = parseLabel(item.label);
      if (!label)
        errors.push({
          field: `${fieldPrefix(index)}label`,
          message: `${ALLOWED}, got ${JSON.stringify(item.label)}`,
        });
      return label;
    });
    if (errors.length > 0) throw validationProblem(errors);

    const predictions = await this.lookUp(items.map((item) => item.id));
    const now = Date.now();
    const redis = this.producer.redis;
    const pipeline = redis.pipeline();
    const results: FeedbackResult[] = items.map((item, index) => {
      const prediction = predictions[index];
      if (!prediction) return { id: item.id, status: 'not_found' };
      const record: FeedbackRecord = {
        id: item.id,
        label: labels[index]!,
        predicted: prediction.label,
        modelVersion: prediction.modelVersion,
        predictedAt: prediction.at,
        at: now,
      };
      pipeline.set(
        redisKeys.feedback(this.config.queuePrefix, item.id),
        JSON.stringify(record),
        'EX',
        this.config.feedbackTtlSeconds,
        'GET',
      );
      pipeline.zadd(redisKeys.feedbackByTime(this.config.queuePrefix), now, item.id);
      return {
        id: item.id,
        status: 'stored',
        label: record.label,
        predicted: record.predicted,
        modelVersion: record.modelVersion,
      };
    });
    // Keep the time index as long as the records it points at.
    pipeline.zremrangebyscore(
      redisKeys.feedbackByTime(this.config.queuePrefix),
      0,
      now - this.config.feedbackTtlSeconds * 1000,
    );
    const replies = (await pipeline.exec()) ?? [];
    let reply = 0;
    for (const result of results) {
      if (result.status === 'not_found') continue;
      const [error, previous] = replies[reply];
      reply += 2;
      if (error) throw error;
      if (previous !== null) result.status = 'replaced';
    }
    return results;
  }

  /** The indexed prediction for each id, newest hour first; undefined where none is indexed. */
  private async lookUp(ids: readonly string[]): Promise<Array<IndexedPrediction | undefined>> {
    const hours = this.config.predictionIndexHours;
    if (hours === 0) return ids.map(() => undefined);
    const current = predictionIndexBucket(Date.now());
    const buckets = Array.from({ length: hours + 1 }, (_, back) =>
      redisKeys.predictionIndex(this.config.queuePrefix, current - back),
    );
    const pipeline = this.producer.redis.pipeline();
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
}
