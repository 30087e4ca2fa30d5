import { SentimentLabel, parseLabel } from './labels';
import { MAX_SOURCE_CHARS, tenantProblem } from './validation';

/**
 * Labelled examples: texts with a human label, kept to retrain the model. They reach the gateway as
 * feedback on a prediction (`origin: feedback`) or as imports from an annotation tool (`origin: import`),
 * wait in a Redis buffer, and the drift monitor appends them to the dataset store as immutable shards that
 * the trainer reads. This file is the one codec of that record.
 */
export const EXAMPLE_ORIGINS = ['feedback', 'import'] as const;
export type ExampleOrigin = (typeof EXAMPLE_ORIGINS)[number];

/** Example ids are the first 32 hex digits (128 bits) of the sha256 of the text: one id per distinct text. */
export const EXAMPLE_ID_PATTERN = /^[0-9a-f]{32}$/;

export interface LabelledExample {
  /**
   * `exampleId(text)`: the same text always has the same id, so a text is stored once per tenant, and deleted
   * (for every tenant) by id.
   */
  id: string;
  text: string;
  label: SentimentLabel;
  /** Channel or client name ('' when none was given). */
  source: string;
  origin: ExampleOrigin;
  /** When the label was given, ms since epoch. */
  at: number;
  /** The prediction it corrects (feedback only). */
  predictionId?: string;
  /** What the model said (feedback only). */
  predicted?: SentimentLabel;
  /** Which model version said it (feedback only). */
  modelVersion?: string;
  /** The tenant whose key labelled it; absent without tenants. Each tenant's label of a text is its own. */
  tenant?: string;
}

/** One JSON object with a fixed key order, so equal examples encode to equal bytes (shards hash stably). */
export function encodeExample(example: LabelledExample): string {
  const { id, text, label, source, origin, at, predictionId, predicted, modelVersion, tenant } = example;
  return JSON.stringify({
    id,
    text,
    label,
    source,
    origin,
    at,
    ...(predictionId !== undefined && { predictionId }),
    ...(predicted !== undefined && { predicted }),
    ...(modelVersion !== undefined && { modelVersion }),
    ...(tenant !== undefined && { tenant }),
  });
}

export type ExampleCheck = { ok: true; example: LabelledExample } | { ok: false; reason: string };

/** Reads one encoded example, saying what is wrong with anything else. */
export function decodeExample(text: string): ExampleCheck {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `not JSON (${(error as Error).message})` };
  }
  return checkExample(value);
}

/** Checks a parsed value field by field (labels must be the schema's names, lower case, as encoded). */
export function checkExample(value: unknown): ExampleCheck {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, reason: 'not an object' };
  const record = value as Record<string, unknown>;
  const problem = (field: string, message: string): ExampleCheck => ({
    ok: false,
    reason: `${field} ${message}`,
  });
  if (typeof record.id !== 'string' || !EXAMPLE_ID_PATTERN.test(record.id))
    return problem('id', 'must be 32 lower-case hex digits');
  if (typeof record.text !== 'string' || record.text.trim() === '')
    return problem('text', 'must be a non-empty string');
  const label = strictLabel(record.label);
  if (!label)
    return problem('label', `must be one of negative, neutral, positive (got ${show(record.label)})`);
  if (typeof record.source !== 'string' || record.source.length > MAX_SOURCE_CHARS)
    return problem('source', `must be a string of at most ${MAX_SOURCE_CHARS} characters`);
  if (!(EXAMPLE_ORIGINS as readonly unknown[]).includes(record.origin))
    return problem('origin', `must be ${EXAMPLE_ORIGINS.join(' or ')} (got ${show(record.origin)})`);
  if (typeof record.at !== 'number' || !Number.isSafeInteger(record.at) || record.at < 0)
    return problem('at', 'must be a time in ms since epoch');
  if (record.predictionId !== undefined && typeof record.predictionId !== 'string')
    return problem('predictionId', 'must be a string');
  let predicted: SentimentLabel | undefined;
  if (record.predicted !== undefined) {
    predicted = strictLabel(record.predicted);
    if (!predicted) return problem('predicted', 'must be a label name');
  }
  if (record.modelVersion !== undefined && typeof record.modelVersion !== 'string')
    return problem('modelVersion', 'must be a string');
  if (record.tenant !== undefined) {
    const issue = tenantProblem(record.tenant);
    if (issue) return problem('tenant', issue);
  }
  return {
    ok: true,
    example: {
      id: record.id,
      text: record.text,
      label,
      source: record.source,
      origin: record.origin as ExampleOrigin,
      at: record.at,
      ...(record.predictionId !== undefined && { predictionId: record.predictionId as string }),
      ...(predicted !== undefined && { predicted }),
      ...(record.modelVersion !== undefined && { modelVersion: record.modelVersion as string }),
      ...(record.tenant !== undefined && { tenant: record.tenant as string }),
    },
  };
}

function strictLabel(value: unknown): SentimentLabel | undefined {
  return typeof value === 'string' && parseLabel(value) === value ? (value as SentimentLabel) : undefined;
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/**
 * A snapshot's examples as one set: one example per id (the text), the latest label winning. Shards are
 * immutable and appended in time order, so a relabel shows up as a second record with the same id.
 */
export interface MaterializedExamples {
  examples: LabelledExample[];
  /** Records that repeated an earlier one's id and label (stored once, counted here). */
  duplicates: number;
  /** Records that gave an already labelled text another label (the latest kept). */
  conflicts: number;
}

export function materializeExamples(records: Iterable<LabelledExample>): MaterializedExamples {
  const byId = new Map<string, LabelledExample>();
  let duplicates = 0;
  let conflicts = 0;
  for (const record of records) {
    const earlier = byId.get(record.id);
    if (earlier) {
      if (earlier.label === record.label) {
        duplicates++;
        if (record.at < earlier.at) continue;
      } else {
        conflicts++;
        if (record.at < earlier.at) continue;
      }
      byId.delete(record.id); // re-inserted below, so iteration order follows the latest label
    }
    byId.set(record.id, record);
  }
  return {
    examples: [...byId.values()].sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1)),
    duplicates,
    conflicts,
  };
}
