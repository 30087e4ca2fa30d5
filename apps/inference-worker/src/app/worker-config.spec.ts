import { resolve } from 'node:path';
import { ConfigError } from '@reputation-monitor/config';
import { DEFAULT_MODEL_DIR, loadWorkerConfig } from './worker-config';
import { QUEUE_WORKER_SETTINGS } from './queue-settings';

describe('loadWorkerConfig', () => {
  it('defaults to the real model directory and the queue settings record', () => {
    const config = loadWorkerConfig({});
    expect(config.modelDir).toBe(resolve(DEFAULT_MODEL_DIR));
    expect(config.modelName).toBe('twitter-roberta-base-sentiment-latest');
    expect(config.modelVariant).toBe('fp32');
    expect(config.queue).toEqual(QUEUE_WORKER_SETTINGS.sentiment);
    expect(config.batch).toEqual({ maxTokens: 4096, maxTexts: 64, maxPaddingRatio: 0.1, maxWaitMs: 0 });
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
