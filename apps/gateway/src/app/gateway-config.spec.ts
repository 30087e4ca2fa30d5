import { ConfigError } from '@reputation-monitor/config';
import { loadGatewayConfig } from './gateway-config';

describe('loadGatewayConfig', () => {
  it('has working defaults', () => {
    const config = loadGatewayConfig({});
    expect(config).toMatchObject({
      port: 3000,
      redisUrl: 'redis://127.0.0.1:6379',
      queuePrefix: 'rm',
      syncTimeoutMs: 10_000,
      maxTextChars: 5_000,
      maxBatchItems: 256,
      maxQueueDepth: 10_000,
      apiKeys: [],
    });
    // The body limit leaves room for a full batch at the character limit.
    expect(config.maxBodyBytes).toBeGreaterThanOrEqual(256 * 5_000 * 4);
  });

  it('reads keys and limits, and names every bad variable', () => {
    expect(
      loadGatewayConfig({ API_KEYS: 'k'.repeat(16) + ',' + 'j'.repeat(20), MAX_BATCH_ITEMS: '8' }),
    ).toMatchObject({
      apiKeys: ['k'.repeat(16), 'j'.repeat(20)],
      maxBatchItems: 8,
    });
    expect(() =>
      loadGatewayConfig({ SYNC_TIMEOUT_MS: '-1', MAX_QUEUE_DEPTH: 'lots', API_KEYS: 'short' }),
    ).toThrow(ConfigError);
    try {
      loadGatewayConfig({ SYNC_TIMEOUT_MS: '-1', MAX_QUEUE_DEPTH: 'lots', API_KEYS: 'short' });
    } catch (error) {
      expect((error as ConfigError).problems).toEqual([
        'SYNC_TIMEOUT_MS must be an integer in 0..300000, got -1',
        'MAX_QUEUE_DEPTH must be an integer, got "lots"',
        'API_KEYS must be a comma-separated list of keys of at least 16 characters each',
      ]);
    }
  });
});
