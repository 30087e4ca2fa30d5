import IORedis from 'ioredis';
import { connectRedis, describeRedis, redisOptions, redisSettingsProblems } from './settings';

/** What ioredis itself makes of a URL (no connection is opened). */
function ioredisReading(url: string) {
  const client = new IORedis(url, { lazyConnect: true });
  const { host, port, username, password, db, tls, family } = client.options;
  client.disconnect();
  return { host, port, username, password, db, tls: tls ? {} : undefined, family };
}

describe('redisOptions without sentinels', () => {
  it.each([
    'redis://127.0.0.1:6379',
    'redis://redis',
    'redis://:s3cret@redis:6380/2',
    'redis://app:p%40ss@10.0.0.5:6379/0',
    'rediss://:pw@cache.example.com:6380',
    'redis://[::1]:7000?family=6',
  ])('reads %s as ioredis does', (url) => {
    const mine = redisOptions({ url });
    const theirs = ioredisReading(url);
    expect({
      host: mine.host,
      port: mine.port,
      username: mine.username ?? theirs.username,
      password: mine.password ?? theirs.password,
      db: mine.db ?? theirs.db,
      tls: mine.tls,
      family: mine.family ?? theirs.family,
    }).toEqual(theirs);
  });

  it('lays the caller overrides on top and sets no sentinel option', () => {
    const options = redisOptions({ url: 'redis://:pw@redis:6379/1' }, { maxRetriesPerRequest: null });
    expect(options).toEqual({ host: 'redis', port: 6379, password: 'pw', db: 1, maxRetriesPerRequest: null });
  });
});

describe('redisOptions with sentinels', () => {
  const settings = {
    url: 'redis://:app-pw@ignored-host:1/3',
    sentinels: [
      { host: '10.0.0.1', port: 26379 },
      { host: 'sentinel-2', port: 26380 },
    ],
    sentinelName: 'reputation',
    sentinelPassword: 'sentinel-pw',
  };

  it('asks the sentinels for the primary and keeps the URL for the password and database only', () => {
    const options = redisOptions(settings, { enableOfflineQueue: false });
    expect(options).toMatchObject({
      sentinels: settings.sentinels,
      name: 'reputation',
      role: 'master',
      sentinelPassword: 'sentinel-pw',
      password: 'app-pw',
      db: 3,
      enableOfflineQueue: false,
    });
    expect(options.host).toBeUndefined();
    expect(options.port).toBeUndefined();
    expect(options.tls).toBeUndefined();
  });

  it('defaults the group name to mymaster and reconnects on READONLY (a demoted primary)', () => {
    const options = redisOptions({ url: 'redis://x', sentinels: settings.sentinels });
    expect(options.name).toBe('mymaster');
    expect(options.sentinelPassword).toBeUndefined();
    const reconnect = options.reconnectOnError as (error: Error) => unknown;
    expect(reconnect(new Error("READONLY You can't write against a read only replica."))).toBe(1);
    expect(reconnect(new Error('OOM command not allowed'))).toBe(false);
  });

  it('uses TLS to the primary and to the sentinels for rediss://', () => {
    const options = redisOptions({ ...settings, url: 'rediss://:pw@mymaster' });
    expect(options).toMatchObject({ tls: {}, enableTLSForSentinelMode: true, sentinelTLS: {} });
  });

  it('makes an ioredis connection in sentinel mode', () => {
    const client = connectRedis(settings, { lazyConnect: true });
    expect(client.options.sentinels).toEqual(settings.sentinels);
    expect(client.options.name).toBe('reputation');
    client.disconnect();
  });

  it('describes where it points without any password', () => {
    expect(describeRedis(settings)).toBe(
      'the primary of "reputation" (sentinels 10.0.0.1:26379,sentinel-2:26380)',
    );
    expect(describeRedis({ url: 'redis://:pw@redis:6379/2' })).toBe('redis://redis:6379/2');
  });
});

describe('redisSettingsProblems', () => {
  it('accepts good settings', () => {
    expect(
      redisSettingsProblems({
        url: 'redis://redis:6379/0',
        sentinels: [{ host: 's1', port: 26379 }],
        waitReplicas: 'auto',
        waitTimeoutMs: 500,
      }),
    ).toEqual([]);
  });

  it('names every bad field', () => {
    expect(
      redisSettingsProblems({
        url: 'http://redis',
        sentinels: [
          { host: '', port: 26379 },
          { host: 's2', port: 70_000 },
        ],
        sentinelName: 'my master',
        waitReplicas: -1,
        waitTimeoutMs: 0,
      }),
    ).toEqual([
      'url must be a redis:// or rediss:// URL, got "http://redis"',
      'sentinels[0].host must be a host name or address, got ""',
      'sentinels[1].port must be an integer in 1..65535, got 70000',
      'sentinelName must be a name without spaces, got "my master"',
      'waitReplicas must be "auto" or an integer in 0..100, got -1',
      'waitTimeoutMs must be an integer in 1..60000, got 0',
    ]);
    expect(redisSettingsProblems({ url: 'redis://redis/zero' })).toEqual([
      'url must have a database number as its path (redis://host:6379/0), got "/zero"',
    ]);
  });

  it('names what it was given: strings quoted, numbers as they are', () => {
    expect(redisSettingsProblems({ url: 'redis://x', waitReplicas: NaN })).toEqual([
      'waitReplicas must be "auto" or an integer in 0..100, got NaN',
    ]);
  });

  it('makes redisOptions refuse bad settings', () => {
    expect(() => redisOptions({ url: 'redis://x', waitReplicas: 1.5 })).toThrow(
      'invalid Redis settings: waitReplicas must be "auto" or an integer in 0..100, got 1.5',
    );
  });
});
