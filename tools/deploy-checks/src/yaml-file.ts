import { parseDocument } from 'yaml';

/** Parses YAML (duplicate keys are errors); throws with every parse error named. */
export function parseYaml<T = unknown>(text: string, what: string): T {
  const document = parseDocument(text, { merge: true });
  if (document.errors.length > 0) {
    throw new Error(`${what} is not valid YAML:\n  ${document.errors.map((e) => e.message).join('\n  ')}`);
  }
  return document.toJS() as T;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
