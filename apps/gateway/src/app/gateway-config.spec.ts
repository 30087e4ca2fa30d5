import { ConfigError } from '@reputation-monitor/config';
import { exposureProblem } from '@reputation-monitor/http-edge';
import { loadGatewayConfig } from './gateway-config';

describe('loadGatewayConfig', () => {
  it('has working defaults', () => {
    const config = loadGatewayConfig({});
    expect(config).toMatchObject({
      port: 3000,
      redis: { url: 'redis://127.0.0.1:6379', waitReplicas: 'auto', waitTimeoutMs: 1_000 },
      queuePrefix: 'rm',
      syncTimeoutMs: 10_000,
      maxTextChars: 5_000,
      maxBatchItems: 256,
      maxQueueDepth: 10_000,
      apiKeys: [],
      authOff: false,
      rateLimitPerMinute: 6_000,
      server: { keepAliveTimeoutMs: 65_000 },
      idClaimMaxEntries: 100_000,
    });
    // The body limit leaves room for a full batch at the character limit.
    expect(config.maxBodyBytes).toBeGreaterThanOrEqual(256 * 5_000 * 4);
  });

  it('reads the id claims bound, 0 turning claims off', () => {
    expect(loadGatewayConfig({ ID_CLAIM_MAX_ENTRIES: '0' }).idClaimMaxEntries).toBe(0);
    expect(() => loadGatewayConfig({ ID_CLAIM_MAX_ENTRIES: '-5' })).toThrow(
      'ID_CLAIM_MAX_ENTRIES must be an integer in 0..1000000000, got -5',
    );
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
        'API_KEYS holds "<tenant>:<key>" or bare keys, comma-separated: keys must be at least 16 characters',
      ]);
    }
  });

  it('refuses to serve without keys on an address other machines reach, unless AUTH=off says so', () => {
    const exposure = (env: Record<string, string>) => {
      const config = loadGatewayConfig(env);
      return exposureProblem(config, config.host);
    };
    expect(exposure({})).toMatch(/HOST=0\.0\.0\.0 is reachable from other machines/);
    expect(exposure({ HOST: '127.0.0.1' })).toBeUndefined();
    expect(exposure({ HOST: '::1' })).toBeUndefined();
    expect(exposure({ AUTH: 'off' })).toBeUndefined();
    expect(exposure({ API_KEYS: 'acme:' + 'k'.repeat(16) })).toBeUndefined();
    expect(loadGatewayConfig({ AUTH: 'off' })).toMatchObject({ host: '0.0.0.0', authOff: true });
    expect(() => loadGatewayConfig({ AUTH: 'off', API_KEYS: 'k'.repeat(16) })).toThrow(/AUTH=off/);
    expect(() => loadGatewayConfig({ AUTH: 'maybe', HOST: '::1' })).toThrow(/AUTH must be one of on, off/);
  });

  it('refuses an admin key that is also a client key, named or not', () => {
    expect(() =>
      loadGatewayConfig({ API_KEYS: 'acme:' + 'k'.repeat(16), ADMIN_API_KEYS: 'ops:' + 'k'.repeat(16) }),
    ).toThrow(/ADMIN_API_KEYS must not repeat a key of API_KEYS/);
  });
});
