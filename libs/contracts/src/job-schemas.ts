import { TENANT_PATTERN } from './jobs';
import { SENTIMENT_LABELS } from './labels';
import { QueueName, SentimentJobName } from './queues';
import {
  DEFAULT_MAX_BATCH_ITEMS,
  DEFAULT_MAX_TEXT_CHARS,
  MAX_PREDICTION_ID_CHARS,
  REQUEST_ID_PATTERN,
  SOURCE_PATTERN,
} from './validation';

/**
 * JSON Schema (draft 2020-12) of every job payload and result version: the language-neutral form of the job
 * contract, for producers and readers that are not written in TypeScript. These objects are the source of the
 * schema files (`schema/*.schema.json` in this package and `docs/schema/`, written by `nx run
 * contracts:write-schemas`); they are built from the same constants as `checkClassifyPayload`, and a spec runs
 * both over generated payloads to show they accept and refuse the same values.
 */
export const JSON_SCHEMA_DIALECT = 'https://json-schema.org/draft/2020-12/schema';

/**
 * The characters `String.prototype.trim` removes (ECMAScript WhiteSpace and LineTerminator), as a regular
 * expression character class body. Spelled out instead of `\s`, whose meaning differs between regex engines.
 */
export const TRIMMED_WHITESPACE = '\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff';

/** Matches a string holding at least one character that is not whitespace (JSON Schema patterns are not anchored). */
export const NOT_ONLY_WHITESPACE_PATTERN = `[^${TRIMMED_WHITESPACE}]`;

/** The limits a worker is configured with (MAX_TEXT_CHARS, MAX_BATCH_ITEMS); the shipped schema has the defaults. */
export interface PayloadSchemaLimits {
  maxTextChars?: number;
  maxBatchItems?: number;
}

const LENGTH_NOTE =
  'Lengths count characters as code points (JSON Schema maxLength), as the worker does: an emoji is one.';

/** Version 1 of the `classify` job payload (`ClassifyJobPayloadV1`), for a worker with the given limits. */
export function classifyPayloadSchemaV1(limits: PayloadSchemaLimits = {}) {
  const maxTextChars = limits.maxTextChars ?? DEFAULT_MAX_TEXT_CHARS;
  const maxBatchItems = limits.maxBatchItems ?? DEFAULT_MAX_BATCH_ITEMS;
  return {
    $schema: JSON_SCHEMA_DIALECT,
    $id: 'urn:reputation-monitor:sentiment:classify:payload:v1',
    title: 'ClassifyJobPayloadV1',
    description:
      `Data of a "${SentimentJobName.Classify}" job on the BullMQ queue "${QueueName.Sentiment}" (key prefix: the ` +
      `deployment's QUEUE_PREFIX, default "rm"). Limits are the workers' defaults (MAX_TEXT_CHARS ` +
      `${maxTextChars}, MAX_BATCH_ITEMS ${maxBatchItems}). Properties not listed are ignored by v1 workers. ` +
      'A worker fails a job whose data this schema refuses at once, without retries. See docs/job-contract.md.',
    type: 'object',
    required: ['v', 'items', 'enqueuedAt'],
    properties: {
      v: { description: 'Payload version.', const: 1 },
      items: {
        description: 'The texts of the job, answered in this order.',
        type: 'array',
        minItems: 1,
        maxItems: maxBatchItems,
        items: { $ref: '#/$defs/textItem' },
      },
      source: {
        description: 'Where the texts came from (a channel or client name), for reporting.',
        type: 'string',
        pattern: SOURCE_PATTERN.source,
      },
      enqueuedAt: {
        description:
          'Enqueue time in ms since the Unix epoch, set by the producer (the queue time is measured from it).',
        type: 'number',
      },
      tenant: {
        description:
          'Owner of the job; only readers of the same tenant see it. Absent for unowned jobs. Job ids of a tenant ' +
          'start with "<tenant>~".',
        type: 'string',
        pattern: TENANT_PATTERN.source,
      },
      requestId: {
        description:
          'The request that asked for the job, carried into the worker log and the prediction stream.',
        type: 'string',
        pattern: REQUEST_ID_PATTERN.source,
      },
    },
    $defs: {
      textItem: {
        type: 'object',
        required: ['id', 'text'],
        properties: {
          id: {
            description:
              `Prediction id (1-${MAX_PREDICTION_ID_CHARS} characters): the caller's own id, or one the producer ` +
              'derives from the job id. Feedback refers to a prediction by it.',
            type: 'string',
            minLength: 1,
            maxLength: MAX_PREDICTION_ID_CHARS,
          },
          text: {
            description: `The text to classify: at most ${maxTextChars} characters, not empty or only whitespace. ${LENGTH_NOTE}`,
            type: 'string',
            maxLength: maxTextChars,
            pattern: NOT_ONLY_WHITESPACE_PATTERN,
          },
        },
      },
    },
    examples: [
      {
        v: 1,
        items: [{ id: 'tweet-1', text: 'Great support today!' }],
        source: 'twitter',
        enqueuedAt: 1767225600000,
      },
    ],
  } as const;
}

const score = { type: 'number', minimum: 0, maximum: 1 } as const;

/** Version 1 of the `classify` job result (`ClassifyJobResultV1`): the job's return value once it completed. */
export const classifyResultSchemaV1 = {
  $schema: JSON_SCHEMA_DIALECT,
  $id: 'urn:reputation-monitor:sentiment:classify:result:v1',
  title: 'ClassifyJobResultV1',
  description:
    `Return value of a completed "${SentimentJobName.Classify}" job on the BullMQ queue "${QueueName.Sentiment}" ` +
    '(the job hash field "returnvalue", JSON). Readers must ignore properties they do not know. See ' +
    'docs/job-contract.md.',
  type: 'object',
  required: ['v', 'model', 'predictions', 'timings'],
  properties: {
    v: { description: 'Result version.', const: 1 },
    model: {
      description: 'The model version that answered.',
      type: 'object',
      required: ['name', 'version'],
      properties: { name: { type: 'string' }, version: { type: 'string' } },
    },
    predictions: {
      description: "One prediction per item of the payload, in the payload's order.",
      type: 'array',
      items: { $ref: '#/$defs/prediction' },
    },
    timings: {
      type: 'object',
      required: ['queueMs', 'processingMs'],
      properties: {
        queueMs: { description: 'Enqueued -> picked up by a worker (ms).', type: 'number', minimum: 0 },
        processingMs: { description: 'Picked up -> all predictions ready (ms).', type: 'number', minimum: 0 },
      },
    },
  },
  $defs: {
    prediction: {
      type: 'object',
      required: ['id', 'label', 'scores', 'tokens', 'truncated'],
      properties: {
        id: { description: "The item's id.", type: 'string' },
        label: { description: 'The label with the highest score.', enum: SENTIMENT_LABELS },
        scores: {
          description: 'Probability of each label (they sum to 1).',
          type: 'object',
          required: SENTIMENT_LABELS,
          properties: { negative: score, neutral: score, positive: score },
        },
        tokens: {
          description: 'Token ids fed to the model, including <s> and </s>.',
          type: 'integer',
          minimum: 0,
        },
        truncated: {
          description: "True when the text was longer than the model's limit and its tail was cut.",
          type: 'boolean',
        },
      },
    },
  },
} as const;

/** The schema files, by file name: `<queue>.<job name>.<payload|result>.v<version>.schema.json`. */
export function jobSchemaFiles(): Record<string, object> {
  const base = `${QueueName.Sentiment}.${SentimentJobName.Classify}`;
  return {
    [`${base}.payload.v1.schema.json`]: classifyPayloadSchemaV1(),
    [`${base}.result.v1.schema.json`]: classifyResultSchemaV1,
  };
}

/**
 * A schema as file text: 2-space JSON with every character outside printable ASCII written as a \u escape, so
 * the whitespace class in a pattern reads as escapes and survives any editor.
 */
export function schemaFileText(schema: object): string {
  const escaped = JSON.stringify(schema, null, 2).replace(
    /[^\x20-\x7e\n]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return `${escaped}\n`;
}
