import { resolve } from 'node:path';
import { ConfigError } from '@reputation-monitor/config';
import {
  DEFAULT_INFERENCE_NICE,
  DEFAULT_MODEL_DIR,
  DEFAULT_PREDICTION_INDEX_MAX_ENTRIES,
  DEFAULT_RESULT_CACHE_MAX_ENTRIES,
  loadWorkerConfig,
} from './worker-config';
import { QUEUE_WORKER_SETTINGS } from './queue-settings';

describe('loadWorkerConfig', () => {
  it('defaults to the real model directory and the queue settings record', () => {
    const config = loadWorkerConfig({});
    expect(config.modelDir).toBe(resolve(DEFAULT_MODEL_DIR));
    expect(config.modelName).toBe('twitter-roberta-base-sentiment-latest');
    expect(config.modelVariant).toBe('fp32');
    expect(config.queue).toEqual(QUEUE_WORKER_SETTINGS.sentiment);
    expect(config.batch).toEqual({ maxTokens: 4096, maxTexts: 64, maxPaddingRatio: 1, maxWaitMs: 0 });
    expect(config.resultCacheTtlSeconds).toBe(3600);
  });

  it('reads the result cache TTL, with 0 turning the cache off', () => {
    expect(loadWorkerConfig({ RESULT_CACHE_TTL_SECONDS: '0' }).resultCacheTtlSeconds).toBe(0);
    expect(loadWorkerConfig({ RESULT_CACHE_TTL_SECONDS: '86400' }).resultCacheTtlSeconds).toBe(86_400);
    expect(() => loadWorkerConfig({ RESULT_CACHE_TTL_SECONDS: '-1' })).toThrow(
      'RESULT_CACHE_TTL_SECONDS must be an integer in 0..2592000, got -1',
    );
  });

  it('bounds the result cache and the prediction index by count, by default and as told', () => {
    const defaults = loadWorkerConfig({});
    expect([defaults.resultCacheMaxEntries, defaults.predictionIndexMaxEntries]).toEqual([
      DEFAULT_RESULT_CACHE_MAX_ENTRIES,
      DEFAULT_PREDICTION_INDEX_MAX_ENTRIES,
    ]);
    const set = loadWorkerConfig({ RESULT_CACHE_MAX_ENTRIES: '5000', PREDICTION_INDEX_MAX_ENTRIES: '20000' });
    expect([set.resultCacheMaxEntries, set.predictionIndexMaxEntries]).toEqual([5_000, 20_000]);
    expect(() => loadWorkerConfig({ PREDICTION_INDEX_MAX_ENTRIES: '10' })).toThrow(
      'PREDICTION_INDEX_MAX_ENTRIES must be an integer in 1000..1000000000, got 10',
    );
  });

  it("reads the inference lanes, the solo lane and the inference threads' nice, with their defaults", () => {
    const defaults = loadWorkerConfig({});
    expect([defaults.inferenceLanes, defaults.soloLane, defaults.inferenceNice]).toEqual([
      0,
      'auto',
      DEFAULT_INFERENCE_NICE,
    ]);
    const set = loadWorkerConfig({ INFERENCE_LANES: '1', INFERENCE_SOLO_LANE: 'off', INFERENCE_NICE: '0' });
    expect([set.inferenceLanes, set.soloLane, set.inferenceNice]).toEqual([1, 'off', 0]);
    expect(() => loadWorkerConfig({ INFERENCE_NICE: '20' })).toThrow(
      'INFERENCE_NICE must be an integer in 0..19, got 20',
    );
    expect(() => loadWorkerConfig({ INFERENCE_SOLO_LANE: 'yes' })).toThrow('INFERENCE_SOLO_LANE');
    expect(() => loadWorkerConfig({ INFERENCE_LANES: '-1' })).toThrow(
      'INFERENCE_LANES must be an integer in 0..64, got -1',
    );
  });

  it('keeps the heartbeat well inside the time after which a worker counts as gone', () => {
    expect(loadWorkerConfig({ HEARTBEAT_INTERVAL_MS: '5000' }).heartbeatIntervalMs).toBe(5_000);
    expect(() => loadWorkerConfig({ HEARTBEAT_INTERVAL_MS: '20000' })).toThrow('HEARTBEAT_INTERVAL_MS');
  });

  it('names every bad variable', () => {
    let error: unknown;
    try {
      loadWorkerConfig({ BATCH_MAX_TOKENS: '100', MAX_TOKENS: '1024', REDIS_URL: 'localhost:6379' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      'REDIS_URL must be a redis:// or rediss:// URL, got "localhost:6379"',
      'MAX_TOKENS must be an integer in 3..512, got 1024',
      'BATCH_MAX_TOKENS must be an integer in 512..1000000, got 100',
    ]);
  });
});
