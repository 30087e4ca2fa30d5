import IORedis, { Redis, RedisOptions } from 'ioredis';

/** A Redis Sentinel's address. */
export interface SentinelAddress {
  host: string;
  port: number;
}

/** `auto`: wait for one replica while the primary reports a healthy one; a number: always wait for that many. */
export type WaitReplicas = 'auto' | number;

/**
 * How every app, CLI and producer reaches Redis: the `REDIS_*` variables as one object.
 *
 * Without `sentinels`, `url` is the Redis to use. With them, the sentinels name the primary of the
 * `sentinelName` group and `url` only carries what the primary needs besides its address: user and password,
 * the database (`/0`) and TLS (`rediss://`, then the sentinels are reached over TLS too); its host and port are
 * not used.
 */
export interface RedisSettings {
  /** redis://[user:password@]host[:port][/db], rediss:// for TLS. */
  url: string;
  /** Sentinels to ask for the primary (any number; ioredis tries them in turn). */
  sentinels?: readonly SentinelAddress[];
  /** The sentinels' name of the primary (`sentinel monitor <name> …`). Default `mymaster`. */
  sentinelName?: string;
  /** The sentinels' own password (`requirepass` in sentinel.conf), when they have one. */
  sentinelPassword?: string;
  /** Replicas a producer waits for (Redis WAIT) after each enqueue before answering. Default `auto`. */
  waitReplicas?: WaitReplicas;
  /** How long that WAIT may take; without enough acknowledgements by then the enqueue is not confirmed. */
  waitTimeoutMs?: number;
}

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_SENTINEL_NAME = 'mymaster';
export const DEFAULT_WAIT_REPLICAS: WaitReplicas = 'auto';
/** A replica on the same network acknowledges in well under a millisecond; a second covers a busy one. */
export const DEFAULT_WAIT_TIMEOUT_MS = 1_000;
/** Most replicas WAIT may ask for (more than any deployment of this system runs). */
export const MAX_WAIT_REPLICAS = 100;

/** REDIS_WAIT_TIMEOUT_MS / `waitTimeoutMs`: milliseconds a WAIT may take. */
export const WAIT_TIMEOUT_MS_RANGE = { min: 1, max: 60_000 } as const;

// The rules of each field, written once: `redisSettingsProblems` prefixes them with the field's name, the apps'
// environment reader (libs/config) with the variable's. Each says what is wrong after the name.

/** Why `url` cannot be used, or undefined. */
export function redisUrlProblem(url: string): string | undefined {
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (!parsed || (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:'))
    return `must be a redis:// or rediss:// URL, got "${url}"`;
  if (parsed.pathname.length > 1 && !/^\/\d+$/.test(parsed.pathname))
    return `must have a database number as its path (redis://host:6379/0), got "${parsed.pathname}"`;
  return undefined;
}

export function sentinelNameProblem(name: string): string | undefined {
  return /^\S+$/.test(name) ? undefined : `must be a name without spaces, got "${name}"`;
}

/** `auto` or a replica count; anything else (a string that is neither, a fraction) is named as given. */
export function waitReplicasProblem(value: unknown): string | undefined {
  if (value === 'auto') return undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_WAIT_REPLICAS)
    return undefined;
  const given = typeof value === 'string' ? `"${value}"` : String(value);
  return `must be "auto" or an integer in 0..${MAX_WAIT_REPLICAS}, got ${given}`;
}

export function waitTimeoutProblem(value: number): string | undefined {
  const { min, max } = WAIT_TIMEOUT_MS_RANGE;
  return Number.isInteger(value) && value >= min && value <= max
    ? undefined
    : `must be an integer in ${min}..${max}, got ${value}`;
}

/** Every problem with a settings object, each naming its field; empty when it is usable. */
export function redisSettingsProblems(settings: RedisSettings): string[] {
  const problems: string[] = [];
  const add = (field: string, problem: string | undefined) => {
    if (problem) problems.push(`${field} ${problem}`);
  };
  add('url', redisUrlProblem(settings.url));
  settings.sentinels?.forEach((sentinel, index) => {
    if (!sentinel.host || /\s/.test(sentinel.host))
      problems.push(`sentinels[${index}].host must be a host name or address, got "${sentinel.host}"`);
    if (!Number.isInteger(sentinel.port) || sentinel.port < 1 || sentinel.port > 65_535)
      problems.push(`sentinels[${index}].port must be an integer in 1..65535, got ${sentinel.port}`);
  });
  if (settings.sentinelName !== undefined) add('sentinelName', sentinelNameProblem(settings.sentinelName));
  if (settings.waitReplicas !== undefined) add('waitReplicas', waitReplicasProblem(settings.waitReplicas));
  if (settings.waitTimeoutMs !== undefined) add('waitTimeoutMs', waitTimeoutProblem(settings.waitTimeoutMs));
  return problems;
}

/** Whether these settings reach Redis through sentinels. */
export function usesSentinels(settings: RedisSettings): boolean {
  return (settings.sentinels?.length ?? 0) > 0;
}

/** The same reading of a URL as ioredis's own, minus the address when sentinels give it. */
function fromUrl(url: URL, withAddress: boolean): RedisOptions {
  const options: RedisOptions = {};
  if (withAddress) {
    options.host = url.hostname.replace(/^\[|\]$/g, '') || 'localhost';
    options.port = url.port ? Number(url.port) : 6379;
  }
  if (url.username || url.password) {
    if (url.username) options.username = decodeURIComponent(url.username);
    options.password = decodeURIComponent(url.password);
  }
  if (url.pathname.length > 1) options.db = Number(url.pathname.slice(1));
  url.searchParams.forEach((value, key) => {
    (options as Record<string, unknown>)[key] =
      key === 'family' && Number.isInteger(Number(value)) ? Number(value) : value;
  });
  return options;
}

/**
 * After a failover the old primary may come back as a replica while a connection still points at it: a write
 * there fails with READONLY, and reconnecting asks the sentinels for the new primary.
 */
function reconnectOnReadOnly(error: Error): 1 | false {
  return /^READONLY\b/.test(error.message) ? 1 : false;
}

/**
 * The ioredis options of one connection: `overrides` (retries, offline queue, key prefix…) on top of what the
 * settings say. Every Redis connection of every app goes through here, so all of them follow a failover.
 */
export function redisOptions(settings: RedisSettings, overrides: RedisOptions = {}): RedisOptions {
  const problems = redisSettingsProblems(settings);
  if (problems.length > 0) throw new TypeError(`invalid Redis settings: ${problems.join('; ')}`);
  const url = new URL(settings.url);
  const tls = url.protocol === 'rediss:';
  if (!usesSentinels(settings)) return { ...fromUrl(url, true), ...(tls && { tls: {} }), ...overrides };
  return {
    ...fromUrl(url, false),
    sentinels: (settings.sentinels ?? []).map(({ host, port }) => ({ host, port })),
    name: settings.sentinelName ?? DEFAULT_SENTINEL_NAME,
    role: 'master',
    ...(settings.sentinelPassword !== undefined && { sentinelPassword: settings.sentinelPassword }),
    ...(tls && { tls: {}, enableTLSForSentinelMode: true, sentinelTLS: {} }),
    reconnectOnError: reconnectOnReadOnly,
    ...overrides,
  };
}

/** A new connection with these settings (see `redisOptions`). */
export function connectRedis(settings: RedisSettings, overrides: RedisOptions = {}): Redis {
  return new IORedis(redisOptions(settings, overrides));
}

/** Where the settings point, for log lines and errors: never a password. */
export function describeRedis(settings: RedisSettings): string {
  if (usesSentinels(settings)) {
    const sentinels = (settings.sentinels ?? []).map(({ host, port }) => `${host}:${port}`).join(',');
    return `the primary of "${settings.sentinelName ?? DEFAULT_SENTINEL_NAME}" (sentinels ${sentinels})`;
  }
  try {
    const url = new URL(settings.url);
    return `${url.protocol}//${url.host}${url.pathname.length > 1 ? url.pathname : ''}`;
  } catch {
    return 'an invalid URL';
  }
}
