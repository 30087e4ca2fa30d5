import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import {
  ModelInfo,
  Prediction,
  encodeIndexedPrediction,
  predictionIndexBucket,
  redisKeys,
} from '@reputation-monitor/contracts';
import { REDIS, WORKER_CONFIG } from './tokens';
import type { WorkerConfig } from './worker-config';

/**
 * Appends every prediction to a capped Redis stream, the drift monitor's input, and to the hourly index
 * the gateway uses to match feedback labels to predictions. Trimming is
 * approximate (MAXLEN ~) so Redis trims whole macro-nodes cheaply.
 */
@Injectable()
export class PredictionStream {
  private readonly key: string;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
  ) {
    this.key = redisKeys.predictionStream(config.queuePrefix);
  }

  async append(
    predictions: readonly Prediction[],
    model: ModelInfo,
    source: string | undefined,
    at: number,
  ): Promise<void> {
    const pipeline = this.redis.pipeline();
    for (const prediction of predictions) {
      pipeline.xadd(
        this.key,
        'MAXLEN',
        '~',
        this.config.predictionStreamMaxLen,
        '*',
        'id',
        prediction.id,
        'label',
        prediction.label,
        'negative',
        prediction.scores.negative.toFixed(6),
        'neutral',
        prediction.scores.neutral.toFixed(6),
        'positive',
        prediction.scores.positive.toFixed(6),
        'tokens',
        prediction.tokens,
        'truncated',
        prediction.truncated ? 1 : 0,
        'model',
        model.name,
        'version',
        model.version,
        'source',
        source ?? '',
        'at',
        at,
      );
    }
    if (this.config.predictionIndexHours > 0) {
      // One hash per hour, expiring whole once older than the index window.
      const key = redisKeys.predictionIndex(this.config.queuePrefix, predictionIndexBucket(at));
      for (const prediction of predictions) {
        pipeline.hset(
          key,
          prediction.id,
          encodeIndexedPrediction({ label: prediction.label, at, modelVersion: model.version }),
        );
      }
      pipeline.expire(key, (this.config.predictionIndexHours + 1) * 3_600);
    }
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error);
    if (failed) throw failed[0] as Error;
  }
}
