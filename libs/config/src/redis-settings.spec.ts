import { ConfigError, EnvReader } from './env-reader';
import { readRedisSettings, redisEnv, redisSettingsFromEnv } from './redis-settings';

function problemsOf(env: Record<string, string>, wait = true): string[] {
  try {
    redisSettingsFromEnv(env, { wait });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  return [];
}

describe('the REDIS_* settings', () => {
  it('default to the local Redis, no sentinels, WAIT auto for 1 s', () => {
    expect(redisSettingsFromEnv({}, { wait: true })).toEqual({
      url: 'redis://127.0.0.1:6379',
      waitReplicas: 'auto',
      waitTimeoutMs: 1000,
    });
    expect(redisSettingsFromEnv({})).toEqual({ url: 'redis://127.0.0.1:6379' });
  });

  it('read Sentinel: the addresses, the group name and password, the URL for credentials and database', () => {
    expect(
      redisSettingsFromEnv(
        {
          REDIS_URL: 'redis://:app-pw@mymaster/2',
          REDIS_SENTINELS: 'sentinel-0:26379, 10.0.0.7:26380 ,[fd00::1]:26379',
          REDIS_SENTINEL_NAME: 'reputation',
          REDIS_SENTINEL_PASSWORD: 'sentinel-pw',
          REDIS_WAIT_REPLICAS: '2',
          REDIS_WAIT_TIMEOUT_MS: '250',
        },
        { wait: true },
      ),
    ).toEqual({
      url: 'redis://:app-pw@mymaster/2',
      sentinels: [
        { host: 'sentinel-0', port: 26379 },
        { host: '10.0.0.7', port: 26380 },
        { host: 'fd00::1', port: 26379 },
      ],
      sentinelName: 'reputation',
      sentinelPassword: 'sentinel-pw',
      waitReplicas: 2,
      waitTimeoutMs: 250,
    });
    expect(
      redisSettingsFromEnv({ REDIS_SENTINELS: 's:26379', REDIS_WAIT_REPLICAS: 'AUTO' }, { wait: true }),
    ).toEqual({
      url: 'redis://127.0.0.1:6379',
      sentinels: [{ host: 's', port: 26379 }],
      sentinelName: 'mymaster',
      waitReplicas: 'auto',
      waitTimeoutMs: 1000,
    });
    expect(redisSettingsFromEnv({ REDIS_WAIT_REPLICAS: '0' }, { wait: true }).waitReplicas).toBe(0);
  });

  it('name the variable of every bad value, all at once', () => {
    expect(
      problemsOf({
        REDIS_URL: 'http://redis:6379',
        REDIS_SENTINELS: 'sentinel-0,sentinel-1:0,sentinel-2:26379,s 3:1,:26379,[::1]',
        REDIS_SENTINEL_NAME: 'my master',
        REDIS_WAIT_REPLICAS: 'some',
        REDIS_WAIT_TIMEOUT_MS: '0',
      }),
    ).toEqual([
      'REDIS_URL must be a redis:// or rediss:// URL, got "http://redis:6379"',
      'REDIS_SENTINELS must be host:port entries separated by commas (port 1..65535), got "sentinel-0"',
      'REDIS_SENTINELS must be host:port entries separated by commas (port 1..65535), got "sentinel-1:0"',
      'REDIS_SENTINELS must be host:port entries separated by commas (port 1..65535), got "s 3:1"',
      'REDIS_SENTINELS must be host:port entries separated by commas (port 1..65535), got ":26379"',
      'REDIS_SENTINELS must be host:port entries separated by commas (port 1..65535), got "[::1]"',
      'REDIS_SENTINEL_NAME must be a name without spaces, got "my master"',
      'REDIS_WAIT_REPLICAS must be "auto" or an integer in 0..100, got "some"',
      'REDIS_WAIT_TIMEOUT_MS must be an integer in 1..60000, got 0',
    ]);
    expect(problemsOf({ REDIS_WAIT_REPLICAS: '-1', REDIS_WAIT_TIMEOUT_MS: '1.5' })).toEqual([
      'REDIS_WAIT_REPLICAS must be "auto" or an integer in 0..100, got "-1"',
      'REDIS_WAIT_TIMEOUT_MS must be an integer, got "1.5"',
    ]);
    expect(problemsOf({ REDIS_WAIT_REPLICAS: '101' })).toEqual([
      'REDIS_WAIT_REPLICAS must be "auto" or an integer in 0..100, got 101',
    ]);
    expect(problemsOf({ REDIS_URL: 'redis://redis:6379/zero' })).toEqual([
      'REDIS_URL must have a database number as its path (redis://host:6379/0), got "/zero"',
    ]);
    expect(problemsOf({ REDIS_SENTINEL_PASSWORD: 'pw' })).toEqual([
      'REDIS_SENTINEL_PASSWORD is set but REDIS_SENTINELS is not (list the sentinels, or unset it)',
    ]);
  });

  it('are declared in the app schema, the WAIT ones only for apps that enqueue', () => {
    const worker = new EnvReader({});
    readRedisSettings(worker);
    expect(worker.variables.map((variable) => variable.name)).toEqual([
      'REDIS_URL',
      'REDIS_SENTINELS',
      'REDIS_SENTINEL_NAME',
      'REDIS_SENTINEL_PASSWORD',
    ]);
    const gateway = new EnvReader({});
    readRedisSettings(gateway, { wait: true });
    expect(gateway.variables.slice(4)).toEqual([
      { name: 'REDIS_WAIT_REPLICAS', kind: 'string', default: 'auto' },
      { name: 'REDIS_WAIT_TIMEOUT_MS', kind: 'integer', default: 1000 },
    ]);
  });

  it('turn back into the same variables (for a process a tool starts)', () => {
    const env = {
      REDIS_URL: 'redis://:pw@mymaster/1',
      REDIS_SENTINELS: 'a:1,[fd00::1]:2',
      REDIS_SENTINEL_NAME: 'group',
      REDIS_SENTINEL_PASSWORD: 'spw',
      REDIS_WAIT_REPLICAS: '1',
      REDIS_WAIT_TIMEOUT_MS: '300',
    };
    expect(redisEnv(redisSettingsFromEnv(env, { wait: true }))).toEqual(env);
    expect(redisEnv({ url: 'redis://r:6379' })).toEqual({ REDIS_URL: 'redis://r:6379' });
  });
});
