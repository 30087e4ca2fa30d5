/**
 * A JSON writer for fuzzed bodies: besides plain values it writes objects as ordered entry lists (so a body can
 * repeat a key, or carry an own `__proto__` key) and verbatim fragments (number literals JSON.stringify cannot
 * produce, such as `1e309` or `-0`, or deliberately broken text).
 */
export class RawJson {
  constructor(readonly json: string) {}
}

export class JsonEntries {
  constructor(readonly entries: ReadonlyArray<readonly [string, unknown]>) {}
}

/** Marks a field left out of a generated object. */
export const OMIT: unique symbol = Symbol('omit');

export function encodeJson(value: unknown): string {
  if (value instanceof RawJson) return value.json;
  if (value instanceof JsonEntries)
    return `{${value.entries
      .filter(([, item]) => item !== OMIT)
      .map(([key, item]) => `${JSON.stringify(key)}:${encodeJson(item)}`)
      .join(',')}}`;
  if (Array.isArray(value)) return `[${value.map(encodeJson).join(',')}]`;
  if (value === undefined || value === OMIT) return 'null';
  if (typeof value === 'object' && value !== null) return encodeJson(new JsonEntries(Object.entries(value)));
  return JSON.stringify(value) ?? 'null';
}

/** Percent-encodes every byte of the string's UTF-8 form outside the unreserved set (lone surrogates included). */
export function percentEncode(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const char = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** A short, printable view of bytes for failure reports. */
export function preview(data: string | Buffer | undefined, max = 240): string {
  if (data === undefined) return '(none)';
  const text = typeof data === 'string' ? data : data.toString('utf8');
  const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  const shown = JSON.stringify(text.length > max ? text.slice(0, max) : text);
  return text.length > max ? `${shown}…(${bytes} bytes)` : shown;
}
