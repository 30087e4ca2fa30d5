import { createHash } from 'node:crypto';

/**
 * An example's id: the first 32 hex digits (128 bits) of the sha256 of its text, exactly as given. The
 * same text always gets the same id, so it is stored once, a new label replaces the old, and a person
 * asking for their text to be deleted can be served by its id (or by the text, hashed again).
 */
export function exampleId(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 32);
}
