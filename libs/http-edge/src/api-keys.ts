import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * The configured API keys and how a request presents one: `Authorization: Bearer <key>`,
 * `x-api-key: <key>`, or HTTP Basic with the key as password (what a browser can send to the admin UI).
 * Keys are compared as SHA-256 digests with timingSafeEqual against every configured key, so timing
 * reveals neither which key nor how much of it matched.
 */
export class ApiKeys {
  private readonly digests: Buffer[];

  constructor(keys: readonly string[]) {
    this.digests = keys.map(digest);
  }

  get required(): boolean {
    return this.digests.length > 0;
  }

  accepts(request: IncomingMessage): boolean {
    if (!this.required) return true;
    return this.matches(request);
  }

  /** True when the request presents one of the keys (never when none is configured). */
  matches(request: IncomingMessage): boolean {
    const presented = presentedKey(request);
    if (presented === undefined) return false;
    const candidate = digest(presented);
    let match = false;
    for (const known of this.digests) match = timingSafeEqual(candidate, known) || match;
    return match;
  }
}

/**
 * Keys that may change what the system serves (ADMIN_API_KEYS). Unlike client keys, none configured means
 * nobody is an admin: admin routes answer 403 rather than opening up.
 */
export class AdminApiKeys extends ApiKeys {}

/** Who presented a key, for audit records: `key:<first 12 hex of its sha256>` (the key itself is never kept). */
export function keyFingerprint(request: IncomingMessage): string {
  const presented = presentedKey(request);
  return presented === undefined ? 'anonymous' : `key:${digest(presented).toString('hex').slice(0, 12)}`;
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
