import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { TENANT_PATTERN } from '@reputation-monitor/contracts';

/** Shortest accepted key: 16 characters (e.g. `openssl rand -hex 16` gives 32). */
export const MIN_KEY_LENGTH = 16;

/** One configured key: the tenant it acts for and the SHA-256 digest it is compared by. */
interface KeyEntry {
  tenant: string;
  digest: Buffer;
}

/**
 * Reads one `API_KEYS` / `ADMIN_API_KEYS` entry: `<tenant>:<key>` names the tenant (two keys of one tenant
 * see the same jobs, which is how a key is rotated); a bare key is its own tenant, `k` + 12 hex of its
 * SHA-256. Returns a problem message for an entry that cannot be used.
 */
export function parseKeyEntry(entry: string): { tenant: string; key: string } | string {
  const colon = entry.indexOf(':');
  const named = colon > 0 && TENANT_PATTERN.test(entry.slice(0, colon));
  const key = named ? entry.slice(colon + 1) : entry;
  if (key.length < MIN_KEY_LENGTH) return `keys must be at least ${MIN_KEY_LENGTH} characters`;
  return { tenant: named ? entry.slice(0, colon) : `k${digest(key).toString('hex').slice(0, 12)}`, key };
}

/**
 * The configured API keys and how a request presents one: `Authorization: Bearer <key>`,
 * `x-api-key: <key>`, or HTTP Basic with the key as password (what a browser can send to the admin UI).
 * Keys are compared as SHA-256 digests with timingSafeEqual against every configured key, so timing
 * reveals neither which key nor how much of it matched.
 */
export class ApiKeys {
  private readonly entries: KeyEntry[];

  /** `entries` as in the environment variable; invalid ones are refused by the app's config check first. */
  constructor(entries: readonly string[]) {
    this.entries = entries.map((entry) => {
      const parsed = parseKeyEntry(entry);
      if (typeof parsed === 'string') throw new Error(parsed);
      return { tenant: parsed.tenant, digest: digest(parsed.key) };
    });
  }

  get required(): boolean {
    return this.entries.length > 0;
  }

  accepts(request: IncomingMessage): boolean {
    if (!this.required) return true;
    return this.matches(request);
  }

  /** True when the request presents one of the keys (never when none is configured). */
  matches(request: IncomingMessage): boolean {
    return this.tenantOf(request) !== undefined;
  }

  /** The tenant of the key the request presents, or undefined when it presents none of these keys. */
  tenantOf(request: IncomingMessage): string | undefined {
    const candidate = presentedDigest(request);
    if (candidate === undefined) return undefined;
    let tenant: string | undefined;
    // Every entry is compared, matched or not, so the time taken does not tell which one matched.
    for (const entry of this.entries) {
      if (timingSafeEqual(candidate, entry.digest)) tenant ??= entry.tenant;
    }
    return tenant;
  }
}

/**
 * Keys that may change what the system serves (ADMIN_API_KEYS). Unlike client keys, none configured means
 * nobody is an admin: admin routes answer 403 rather than opening up.
 */
export class AdminApiKeys extends ApiKeys {}

/** Who presented a key, for audit records: `key:<first 12 hex of its sha256>` (the key itself is never kept). */
export function keyFingerprint(request: IncomingMessage): string {
  const presented = presentedDigest(request);
  return presented === undefined ? 'anonymous' : `key:${presented.toString('hex').slice(0, 12)}`;
}

const PRESENTED_DIGESTS = new WeakMap<IncomingMessage, Buffer | null>();

/**
 * The SHA-256 of the key a request presents, hashed once per request: the pre-body check, the guard (admin
 * keys, then client keys) and the audit fingerprint all ask.
 */
function presentedDigest(request: IncomingMessage): Buffer | undefined {
  let known = PRESENTED_DIGESTS.get(request);
  if (known === undefined) {
    const key = presentedKey(request);
    known = key === undefined ? null : digest(key);
    PRESENTED_DIGESTS.set(request, known);
  }
  return known ?? undefined;
}

function presentedKey(request: IncomingMessage): string | undefined {
  const header = request.headers['x-api-key'];
  if (typeof header === 'string' && header.length > 0) return header;
  const authorization = request.headers.authorization ?? '';
  const bearer = authorization.match(/^Bearer\s+(.+)$/i);
  if (bearer) return bearer[1];
  const basic = authorization.match(/^Basic\s+(.+)$/i);
  if (basic) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : undefined;
  }
  return undefined;
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}
