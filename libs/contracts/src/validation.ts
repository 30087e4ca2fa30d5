import { CLIENT_ID_PATTERN, ClassifyJobPayload, RESERVED_SOURCES, TENANT_PATTERN, TextItem } from './jobs';

/** Default limits; each service can lower or raise them through its configuration. */
export const DEFAULT_MAX_TEXT_CHARS = 5_000;
export const DEFAULT_MAX_BATCH_ITEMS = 256;
export const MAX_SOURCE_CHARS = 64;
/** What a job's `source` may look like. */
export const SOURCE_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
/** Longest prediction id a job may carry (the worker's bound; client ids are shorter, see CLIENT_ID_PATTERN). */
export const MAX_PREDICTION_ID_CHARS = 256;

/**
 * Characters in a text as people and JSON Schema's `maxLength` count them: code points, so an emoji is one
 * (String.length counts UTF-16 units, two for it). A lone surrogate counts one, as in JSON Schema.
 */
export function characterCount(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++, count++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
  }
  return count;
}

/** Whether `text` holds more than `max` characters; counts only when its UTF-16 length says it might. */
function longerThan(text: string, max: number): number | undefined {
  if (text.length <= max) return undefined;
  const characters = characterCount(text);
  return characters > max ? characters : undefined;
}

/** Why a text is unusable, or undefined when it is fine. The gateway and the producer client share these rules. */
export function textProblem(text: unknown, maxChars: number): string | undefined {
  if (typeof text !== 'string') return 'must be a string';
  if (text.trim().length === 0) return 'must not be empty or only whitespace';
  const characters = longerThan(text, maxChars);
  if (characters !== undefined) return `must be at most ${maxChars} characters (got ${characters})`;
  return undefined;
}

export function clientIdProblem(id: unknown): string | undefined {
  if (typeof id !== 'string') return 'must be a string';
  if (!CLIENT_ID_PATTERN.test(id)) {
    return 'must be 1-128 characters of letters, digits, "_", "." or "-", starting with a letter or digit';
  }
  return undefined;
}

export function sourceProblem(source: unknown): string | undefined {
  if (typeof source !== 'string') return 'must be a string';
  if (!SOURCE_PATTERN.test(source))
    return `must be 1-${MAX_SOURCE_CHARS} characters of letters, digits, "_", "." or "-"`;
  return undefined;
}

/** `sourceProblem`, plus: the sources the system writes itself are not a client's to send. */
export function clientSourceProblem(source: unknown): string | undefined {
  const issue = sourceProblem(source);
  if (issue) return issue;
  return RESERVED_SOURCES.has(source as string)
    ? `"${String(source)}" is reserved for the system's own traffic`
    : undefined;
}

/** What a request id may look like (the gateway takes a caller's x-request-id only when it matches). */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export function tenantProblem(tenant: unknown): string | undefined {
  if (typeof tenant !== 'string' || !TENANT_PATTERN.test(tenant))
    return 'must be 1-40 characters of lower-case letters, digits, "_" or "-", starting with a letter or digit';
  return undefined;
}

export type PayloadCheck = { ok: true; payload: ClassifyJobPayload } | { ok: false; reason: string };

/**
 * Validates a classify job payload as read from the queue. The worker fails such a job at once,
 * without retries, when this says no: a malformed payload will not get better by retrying.
 */
export function checkClassifyPayload(data: unknown, maxChars: number, maxItems: number): PayloadCheck {
  if (typeof data !== 'object' || data === null) return { ok: false, reason: 'payload is not an object' };
  const candidate = data as Partial<ClassifyJobPayload> & Record<string, unknown>;
  if (candidate.v !== 1) return { ok: false, reason: `unsupported payload version ${String(candidate.v)}` };
  if (!Array.isArray(candidate.items) || candidate.items.length === 0) {
    return { ok: false, reason: 'items must be a non-empty array' };
  }
  if (candidate.items.length > maxItems) {
    return { ok: false, reason: `items has ${candidate.items.length} entries, at most ${maxItems} allowed` };
  }
  for (const [index, item] of (candidate.items as unknown[]).entries()) {
    if (typeof item !== 'object' || item === null)
      return { ok: false, reason: `items[${index}] is not an object` };
    const { id, text } = item as Partial<TextItem>;
    const idIssue =
      typeof id === 'string' && id.length > 0 && longerThan(id, MAX_PREDICTION_ID_CHARS) === undefined
        ? undefined
        : 'must be a non-empty string';
    if (idIssue) return { ok: false, reason: `items[${index}].id ${idIssue}` };
    const textIssue = textProblem(text, maxChars);
    if (textIssue) return { ok: false, reason: `items[${index}].text ${textIssue}` };
  }
  if (candidate.source !== undefined) {
    const issue = sourceProblem(candidate.source);
    if (issue) return { ok: false, reason: `source ${issue}` };
  }
  if (candidate.tenant !== undefined) {
    const issue = tenantProblem(candidate.tenant);
    if (issue) return { ok: false, reason: `tenant ${issue}` };
  }
  if (
    candidate.requestId !== undefined &&
    !(typeof candidate.requestId === 'string' && REQUEST_ID_PATTERN.test(candidate.requestId))
  ) {
    return {
      ok: false,
      reason: 'requestId must be 1-128 characters of letters, digits, "_", ".", ":" or "-"',
    };
  }
  if (typeof candidate.enqueuedAt !== 'number' || !Number.isFinite(candidate.enqueuedAt)) {
    return { ok: false, reason: 'enqueuedAt must be a timestamp in ms' };
  }
  return { ok: true, payload: candidate as ClassifyJobPayload };
}
