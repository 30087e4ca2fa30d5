import {
  DEFAULT_REDIS_URL,
  DEFAULT_SENTINEL_NAME,
  DEFAULT_WAIT_TIMEOUT_MS,
  MAX_WAIT_REPLICAS,
  RedisSettings,
  SentinelAddress,
  WaitReplicas,
} from '@reputation-monitor/redis-connection';
import { EnvReader } from './env-reader';

export interface RedisEnvOptions {
  /**
   * Also read REDIS_WAIT_REPLICAS and REDIS_WAIT_TIMEOUT_MS: the apps that enqueue (the gateway, the drift
   * monitor) confirm each job on a replica; the worker does not enqueue and does not read them.
   */
  wait?: boolean;
  /** REDIS_URL's default. */
  defaultUrl?: string;
}

const HOST_PORT = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/;

function sentinelAddress(entry: string): SentinelAddress | undefined {
  const match = HOST_PORT.exec(entry);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port < 1 || port > 65_535) return undefined;
  return { host: match[1] ?? match[2], port };
}

function waitReplicas(read: EnvReader): WaitReplicas {
  const raw = read.string('REDIS_WAIT_REPLICAS', 'auto').toLowerCase();
  if (raw === 'auto') return 'auto';
  const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
  read.check(
    Number.isInteger(value) && value <= MAX_WAIT_REPLICAS,
    `REDIS_WAIT_REPLICAS must be auto or an integer in 0..${MAX_WAIT_REPLICAS}, got "${raw}"`,
  );
  return Number.isInteger(value) && value <= MAX_WAIT_REPLICAS ? value : 'auto';
}

/**
 * The `REDIS_*` variables of every app, in one scheme: REDIS_URL; for Redis Sentinel REDIS_SENTINELS
 * (host:port,…), REDIS_SENTINEL_NAME and REDIS_SENTINEL_PASSWORD, REDIS_URL then carrying only the password, the
 * database and TLS; with `wait`, REDIS_WAIT_REPLICAS and REDIS_WAIT_TIMEOUT_MS. Problems are collected in `read`.
 */
export function readRedisSettings(read: EnvReader, options: RedisEnvOptions = {}): RedisSettings {
  const url = read.redisUrl('REDIS_URL', options.defaultUrl ?? DEFAULT_REDIS_URL);
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  const path = parsed && /^rediss?:$/.test(parsed.protocol) ? parsed.pathname : '';
  read.check(
    path.length <= 1 || /^\/\d+$/.test(path),
    `REDIS_URL's path must be a database number (redis://host:6379/0), got "${path}"`,
  );
  const entries = read.list('REDIS_SENTINELS');
  const sentinels: SentinelAddress[] = [];
  for (const entry of entries) {
    const address = sentinelAddress(entry);
    read.check(
      address !== undefined,
      `REDIS_SENTINELS must be host:port entries separated by commas (port 1..65535), got "${entry}"`,
    );
    if (address) sentinels.push(address);
  }
  const sentinelName = read.string('REDIS_SENTINEL_NAME', DEFAULT_SENTINEL_NAME);
  read.check(
    /^\S+$/.test(sentinelName),
    `REDIS_SENTINEL_NAME must be a name without spaces, got "${sentinelName}"`,
  );
  const sentinelPassword = read.optionalString('REDIS_SENTINEL_PASSWORD');
  read.check(
    sentinelPassword === undefined || entries.length > 0,
    'REDIS_SENTINEL_PASSWORD is set but REDIS_SENTINELS is not (list the sentinels, or unset it)',
  );
  const settings: RedisSettings = {
    url,
    ...(sentinels.length > 0 && { sentinels, sentinelName }),
    ...(sentinels.length > 0 && sentinelPassword !== undefined && { sentinelPassword }),
  };
  if (options.wait) {
    settings.waitReplicas = waitReplicas(read);
    settings.waitTimeoutMs = read.int('REDIS_WAIT_TIMEOUT_MS', {
      default: DEFAULT_WAIT_TIMEOUT_MS,
      min: 1,
      max: 60_000,
    });
  }
  return settings;
}

/** The settings from an environment (the CLIs), throwing a ConfigError that names every bad variable. */
export function redisSettingsFromEnv(
  env: Record<string, string | undefined> = process.env,
  options: RedisEnvOptions = {},
): RedisSettings {
  const read = new EnvReader(env);
  const settings = readRedisSettings(read, options);
  read.done();
  return settings;
}

/** The variables that give these settings back: for a process started with them (a worker a tool starts). */
export function redisEnv(settings: RedisSettings): Record<string, string> {
  return {
    REDIS_URL: settings.url,
    ...(settings.sentinels?.length && {
      REDIS_SENTINELS: settings.sentinels
        .map(({ host, port }) => `${host.includes(':') ? `[${host}]` : host}:${port}`)
        .join(','),
      REDIS_SENTINEL_NAME: settings.sentinelName ?? DEFAULT_SENTINEL_NAME,
    }),
    ...(settings.sentinelPassword !== undefined && { REDIS_SENTINEL_PASSWORD: settings.sentinelPassword }),
    ...(settings.waitReplicas !== undefined && { REDIS_WAIT_REPLICAS: String(settings.waitReplicas) }),
    ...(settings.waitTimeoutMs !== undefined && { REDIS_WAIT_TIMEOUT_MS: String(settings.waitTimeoutMs) }),
  };
}
