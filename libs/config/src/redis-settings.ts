import {
  DEFAULT_REDIS_URL,
  DEFAULT_SENTINEL_NAME,
  DEFAULT_WAIT_TIMEOUT_MS,
  RedisSettings,
  SentinelAddress,
  WAIT_TIMEOUT_MS_RANGE,
  WaitReplicas,
  sentinelNameProblem,
  waitReplicasProblem,
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
  const value = raw === 'auto' ? raw : /^\d+$/.test(raw) ? Number(raw) : raw;
  const problem = waitReplicasProblem(value);
  read.check(problem === undefined, `REDIS_WAIT_REPLICAS ${problem}`);
  return problem === undefined ? (value as WaitReplicas) : 'auto';
}

/**
 * The `REDIS_*` variables of every app, in one scheme: REDIS_URL; for Redis Sentinel REDIS_SENTINELS
 * (host:port,…), REDIS_SENTINEL_NAME and REDIS_SENTINEL_PASSWORD, REDIS_URL then carrying only the password, the
 * database and TLS; with `wait`, REDIS_WAIT_REPLICAS and REDIS_WAIT_TIMEOUT_MS. Problems are collected in `read`.
 */
export function readRedisSettings(read: EnvReader, options: RedisEnvOptions = {}): RedisSettings {
  const url = read.redisUrl('REDIS_URL', options.defaultUrl ?? DEFAULT_REDIS_URL);
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
  const nameProblem = sentinelNameProblem(sentinelName);
  read.check(nameProblem === undefined, `REDIS_SENTINEL_NAME ${nameProblem}`);
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
      ...WAIT_TIMEOUT_MS_RANGE,
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
