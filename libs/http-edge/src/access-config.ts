import type { EnvReader } from '@reputation-monitor/config';
import { parseKeyEntry } from './api-keys';

/** Who may call an app's HTTP API, as read from API_KEYS, ADMIN_API_KEYS and AUTH. */
export interface AccessConfig {
  /** Client keys (`<tenant>:<key>` or a bare key); empty only with AUTH=off or on a loopback address. */
  apiKeys: string[];
  /** Admin keys; empty means admin routes are off (403), never open. */
  adminApiKeys: string[];
  /** AUTH=off: serve /v1 without client keys on purpose, said at start and in readiness details. */
  authOff: boolean;
}

/** True for addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Reads the keys and refuses keys too short, an admin key that is also a client key, and AUTH=off next
 * to client keys.
 */
export function readAccessConfig(read: EnvReader): AccessConfig {
  const apiKeys = read.list('API_KEYS');
  const adminApiKeys = read.list('ADMIN_API_KEYS');
  const authOff = read.oneOf('AUTH', ['on', 'off'], 'on') === 'off';
  for (const [name, entries] of [
    ['API_KEYS', apiKeys],
    ['ADMIN_API_KEYS', adminApiKeys],
  ] as const) {
    const problems = new Set(entries.map(parseKeyEntry).filter((parsed) => typeof parsed === 'string'));
    for (const problem of problems)
      read.check(false, `${name} holds "<tenant>:<key>" or bare keys, comma-separated: ${problem}`);
  }
  const keyOf = (entry: string) => {
    const parsed = parseKeyEntry(entry);
    return typeof parsed === 'string' ? entry : parsed.key;
  };
  const clientKeys = new Set(apiKeys.map(keyOf));
  read.check(
    !adminApiKeys.some((entry) => clientKeys.has(keyOf(entry))),
    'ADMIN_API_KEYS must not repeat a key of API_KEYS (a client key would be an admin)',
  );
  read.check(
    !(authOff && apiKeys.length > 0),
    'AUTH=off serves without client keys, but API_KEYS is set: unset one of them',
  );
  return { apiKeys, adminApiKeys, authOff };
}

/**
 * Why a server must not start: no client keys on an address other machines reach, and AUTH=off does not
 * say that is on purpose. Checked when serving (a one-shot CLI run of the same config listens nowhere).
 */
export function exposureProblem(access: AccessConfig, host: string): string | undefined {
  if (access.apiKeys.length > 0 || access.authOff || isLoopbackHost(host)) return undefined;
  return `HOST=${host} is reachable from other machines and API_KEYS is not set: set API_KEYS, or AUTH=off to serve without keys on purpose`;
}

/** How /v1 is guarded, as readiness details report it. */
export function accessMode(access: AccessConfig): 'api-keys' | 'off' | 'open-on-loopback' {
  if (access.authOff) return 'off';
  return access.apiKeys.length > 0 ? 'api-keys' : 'open-on-loopback';
}

/** The start-up line that says who may call the API. */
export function describeAccess(access: AccessConfig): { level: 'log' | 'warn'; message: string } {
  const admin =
    access.adminApiKeys.length > 0
      ? `admin routes need one of ${access.adminApiKeys.length} admin keys`
      : 'admin routes are off (no ADMIN_API_KEYS)';
  if (access.authOff)
    return { level: 'warn', message: `AUTH=off: /v1 is open to anyone who can reach this port; ${admin}` };
  if (access.apiKeys.length === 0)
    return { level: 'warn', message: `no API_KEYS: /v1 is open on this loopback address only; ${admin}` };
  return {
    level: 'log',
    message: `API keys required on /v1 (${access.apiKeys.length} configured); ${admin}`,
  };
}
