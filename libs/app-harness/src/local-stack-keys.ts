import { join, resolve } from 'node:path';
import { parseKeyEntry } from '@reputation-monitor/http-edge';

/** Where `npm start` leaves the admin key it made, for tools run next to it (`npm run demo:loop`). */
export const LOCAL_ADMIN_KEY_FILE = join(resolve(__dirname, '../../..'), 'tmp/local-stack/admin-key');

/** The key of the first entry of an API_KEYS-style list (`<tenant>:<key>` or a bare key). */
export function firstKey(entries: string | undefined): string | undefined {
  const first = entries?.split(',')[0]?.trim();
  if (!first) return undefined;
  const parsed = parseKeyEntry(first);
  return typeof parsed === 'string' ? first : parsed.key;
}
