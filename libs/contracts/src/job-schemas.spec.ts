import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import fc from 'fast-check';
import { ClassifyJobPayloadV1, ClassifyJobResultV1, Prediction, TENANT_PATTERN, TextItem } from './jobs';
import { SENTIMENT_LABELS } from './labels';
import {
  NOT_ONLY_WHITESPACE_PATTERN,
  PayloadSchemaLimits,
  classifyPayloadSchemaV1,
  classifyResultSchemaV1,
  jobSchemaFiles,
  schemaFileText,
} from './job-schemas';
import {
  DEFAULT_MAX_BATCH_ITEMS,
  DEFAULT_MAX_TEXT_CHARS,
  MAX_PREDICTION_ID_CHARS,
  REQUEST_ID_PATTERN,
  SOURCE_PATTERN,
  checkClassifyPayload,
} from './validation';

// The schema and checkClassifyPayload (the worker's validator) must accept and refuse the same payloads. Both run
// here on every generated value, after a JSON round trip (what a worker reads from Redis is parsed JSON).

const WORKSPACE = resolve(__dirname, '../../..');

function compile(schema: object) {
  // A fresh instance per schema: the $id of a payload schema is the same whatever its limits.
  return new Ajv2020({ strict: true, allErrors: true }).compile(schema);
}

// --- Type-level ties: the schema's properties and required lists are the TypeScript types' keys. ---------------
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];
type PayloadSchema = ReturnType<typeof classifyPayloadSchemaV1>;
type ResultSchema = typeof classifyResultSchemaV1;
type ItemSchema = PayloadSchema['$defs']['textItem'];
type PredictionSchema = ResultSchema['$defs']['prediction'];
const typesMatch: [
  Equals<keyof PayloadSchema['properties'], keyof ClassifyJobPayloadV1>,
  Equals<PayloadSchema['required'][number], RequiredKeys<ClassifyJobPayloadV1>>,
  Equals<keyof ItemSchema['properties'], keyof TextItem>,
  Equals<ItemSchema['required'][number], RequiredKeys<TextItem>>,
  Equals<keyof ResultSchema['properties'], keyof ClassifyJobResultV1>,
  Equals<ResultSchema['required'][number], RequiredKeys<ClassifyJobResultV1>>,
  Equals<keyof PredictionSchema['properties'], keyof Prediction>,
  Equals<PredictionSchema['required'][number], RequiredKeys<Prediction>>,
  Equals<PredictionSchema['properties']['label']['enum'][number], Prediction['label']>,
  Equals<PayloadSchema['properties']['v']['const'], ClassifyJobPayloadV1['v']>,
  Equals<ResultSchema['properties']['v']['const'], ClassifyJobResultV1['v']>,
] = [true, true, true, true, true, true, true, true, true, true, true];

// --- Generators ------------------------------------------------------------------------------------------------
const WHITESPACE = [
  '\t',
  '\n',
  '\v',
  '\f',
  '\r',
  ' ',
  '\u00a0',
  '\u1680',
  ...Array.from({ length: 11 }, (_, i) => String.fromCharCode(0x2000 + i)),
  '\u2028',
  '\u2029',
  '\u202f',
  '\u205f',
  '\u3000',
  '\ufeff',
];
// Look like whitespace to someone, but String.prototype.trim keeps them.
const NEAR_MISSES = ['\u180e', '\u200b', '\u0085', '\u001c', '\u001f', '\u0000', '\u2060'];
const ORDINARY = ['a', 'Z', '0', '-', '.', '_', ':', '~', '/', 'é', '漢'];
const ASTRAL = ['\u{1F600}', '\u{10FFFF}', '\u{1D11E}'];
const LONE_SURROGATES = ['\ud800', '\udfff'];
const char = fc.constantFrom(...WHITESPACE, ...NEAR_MISSES, ...ORDINARY, ...ASTRAL, ...LONE_SURROGATES);
const nonString = fc.constantFrom<unknown>(null, 0, 1, true, [], {}, ['a'], { text: 'a' });

/** Strings around a length limit, in UTF-16 code units, including only-whitespace ones and astral-heavy ones. */
function aroundLength(limit: number, minimum = 0): fc.Arbitrary<string> {
  const lengths = fc.integer({ min: Math.max(minimum, limit - 2), max: limit + 2 });
  const plain = fc
    .tuple(
      lengths,
      fc.constantFrom(' ', 'a', '\u00a0', '\n'),
      fc.constantFrom('a', ' ', 'é', '\u200b'),
      fc.nat(),
    )
    .map(([length, fill, mark, at]) => {
      const text = fill.repeat(length);
      const index = length === 0 ? 0 : at % length;
      return length === 0 ? text : text.slice(0, index) + mark + text.slice(index + 1);
    });
  const astral = fc
    .constantFrom(Math.floor(limit / 2), Math.floor(limit / 2) + 1, limit, limit + 1)
    .filter((count) => count >= minimum)
    .map((count) => '\u{1F600}'.repeat(count));
  return fc.oneof({ weight: 3, arbitrary: plain }, { weight: 1, arbitrary: astral });
}

/** Texts that are mostly valid: short ones (some only whitespace, some with astral characters), few around the limit. */
const mostlyOrdinary = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...ORDINARY) },
  { weight: 1, arbitrary: char },
);
const textArb = (maxChars: number) =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.string({ unit: mostlyOrdinary, minLength: 1, maxLength: Math.min(maxChars, 8) }),
    },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: Math.min(maxChars, 12) }) },
    { weight: 1, arbitrary: aroundLength(maxChars) },
  );

const idArb = fc.oneof(
  { weight: 8, arbitrary: fc.string({ unit: mostlyOrdinary, minLength: 1, maxLength: 10 }) },
  { weight: 1, arbitrary: aroundLength(MAX_PREDICTION_ID_CHARS, 1) },
);

const itemArb = (maxChars: number) =>
  fc.record({ id: idArb, text: textArb(maxChars), note: fc.jsonValue() }, { requiredKeys: ['id', 'text'] });

/** Values that match a pattern, and its edges (just inside and just outside). */
function patterned(pattern: RegExp, edges: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.stringMatching(pattern) },
    { weight: 1, arbitrary: fc.constantFrom(...edges) },
  );
}

const sourceArb = patterned(SOURCE_PATTERN, [
  '',
  'a'.repeat(64),
  'a'.repeat(65),
  'drift-golden',
  'has space',
  'tweet:1',
  'a\n',
  '\na',
  '\u00fc',
]);
const tenantArb = patterned(TENANT_PATTERN, [
  '',
  'a'.repeat(40),
  'a'.repeat(41),
  'Acme',
  '-acme',
  '_acme',
  'acme~x',
  'acme\n',
  '0',
]);
const requestIdArb = patterned(REQUEST_ID_PATTERN, [
  '',
  'a'.repeat(128),
  'a'.repeat(129),
  'req:1.2_3-4',
  'a b',
  'a/b',
  'a\n',
  '\u{1F600}',
]);

type Draft = Record<string, unknown>;
type Mutation = (payload: Draft) => Draft;

/** Breaks one thing about a payload (or, for some, nothing a validator should mind). */
const mutationArb = (maxChars: number, maxItems: number): fc.Arbitrary<Mutation> => {
  const withItem =
    (change: (item: Draft) => unknown): Mutation =>
    (payload) => {
      const items = Array.isArray(payload.items) ? [...payload.items] : [];
      items[items.length - 1] = change({ ...(items[items.length - 1] as Draft) });
      return { ...payload, items };
    };
  const field = (key: string, values: fc.Arbitrary<unknown>) =>
    values.map<Mutation>((value) => (payload) => ({ ...payload, [key]: value }));
  return fc.oneof(
    fc.constantFrom('v', 'items', 'enqueuedAt').map<Mutation>((key) => (payload) => {
      const rest = { ...payload };
      delete rest[key];
      return rest;
    }),
    field('v', fc.constantFrom<unknown>(2, 0, '1', 1.5, true, null, [1])),
    field('enqueuedAt', fc.oneof(fc.double(), fc.constantFrom<unknown>('now', null, '1', true, [], {}))),
    field('items', fc.constantFrom<unknown>([], null, {}, 'items', 1, { 0: { id: 'a', text: 'b' } })),
    fc
      .tuple(fc.constantFrom(maxItems - 1, maxItems, maxItems + 1), itemArb(maxChars))
      .map<Mutation>(([count, item]) => (payload) => ({
        ...payload,
        items: Array.from({ length: Math.max(1, count) }, () => item),
      })),
    fc
      .constantFrom<unknown>(null, 'text', 3, [], [{ id: 'a', text: 'b' }])
      .map((item) => withItem(() => item)),
    fc.constantFrom('id', 'text').map((key) =>
      withItem((item) => {
        delete item[key];
        return item;
      }),
    ),
    fc
      .tuple(fc.constantFrom('id', 'text'), nonString)
      .map(([key, value]) => withItem((item) => ({ ...item, [key]: value }))),
    fc
      .string({ unit: fc.constantFrom(...WHITESPACE), maxLength: 5 })
      .map((text) => withItem((item) => ({ ...item, text }))),
    aroundLength(maxChars).map((text) => withItem((item) => ({ ...item, text }))),
    aroundLength(MAX_PREDICTION_ID_CHARS).map((id) => withItem((item) => ({ ...item, id }))),
    ...(['source', 'tenant', 'requestId'] as const).map((key) =>
      field(key, fc.oneof(fc.string({ unit: char, maxLength: 6 }), nonString)),
    ),
    field('unknownField', fc.jsonValue()),
  );
};

const payloadArb = ({ maxChars, maxItems }: { maxChars: number; maxItems: number }) =>
  fc
    .tuple(
      fc.record(
        {
          v: fc.constant(1),
          items: fc.array(itemArb(maxChars), { minLength: 1, maxLength: Math.min(3, maxItems) }),
          enqueuedAt: fc.integer({ min: 0, max: 4_000_000_000_000 }),
          source: sourceArb,
          tenant: tenantArb,
          requestId: requestIdArb,
        },
        { requiredKeys: ['v', 'items', 'enqueuedAt'] },
      ),
      fc.oneof(
        { weight: 5, arbitrary: fc.constant([]) },
        { weight: 4, arbitrary: fc.array(mutationArb(maxChars, maxItems), { minLength: 1, maxLength: 1 }) },
        { weight: 1, arbitrary: fc.array(mutationArb(maxChars, maxItems), { minLength: 2, maxLength: 2 }) },
      ),
    )
    .map(([payload, mutations]) => mutations.reduce<Draft>((draft, mutate) => mutate(draft), payload));

const anyPayload = (limits: { maxChars: number; maxItems: number }) =>
  fc.oneof(
    { weight: 30, arbitrary: payloadArb(limits) },
    { weight: 1, arbitrary: fc.jsonValue() },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(null, [], 'payload', 1, [{ v: 1 }]) },
  );

describe('the classify payload schema (v1) and checkClassifyPayload', () => {
  const configurations: Array<{ name: string; maxChars: number; maxItems: number; runs: number }> = [
    { name: 'small limits', maxChars: 12, maxItems: 3, runs: 4_000 },
    { name: 'the smallest limits', maxChars: 1, maxItems: 1, runs: 2_000 },
    {
      name: 'the default limits (the shipped schema)',
      maxChars: DEFAULT_MAX_TEXT_CHARS,
      maxItems: DEFAULT_MAX_BATCH_ITEMS,
      runs: 600,
    },
  ];

  it.each(configurations)(
    'accept and refuse the same generated payloads, with $name',
    ({ maxChars, maxItems, runs }) => {
      const limits: PayloadSchemaLimits = { maxTextChars: maxChars, maxBatchItems: maxItems };
      const validate = compile(classifyPayloadSchemaV1(limits));
      const seen = { accepted: 0, refused: 0 };
      fc.assert(
        fc.property(anyPayload({ maxChars, maxItems }), (generated) => {
          const value: unknown = JSON.parse(JSON.stringify(generated) ?? 'null');
          const bySchema = validate(value);
          const byWorker = checkClassifyPayload(value, maxChars, maxItems);
          expect({ bySchema, value }).toEqual({ bySchema: byWorker.ok, value });
          seen[bySchema ? 'accepted' : 'refused']++;
        }),
        { numRuns: runs },
      );
      // The generators must reach both answers often, or agreement would prove little.
      expect(seen.accepted).toBeGreaterThan(runs * 0.15);
      expect(seen.refused).toBeGreaterThan(runs * 0.15);
    },
  );

  it('agree on every edge written out', () => {
    const maxChars = 10;
    const maxItems = 2;
    const validate = compile(classifyPayloadSchemaV1({ maxTextChars: maxChars, maxBatchItems: maxItems }));
    const good = { v: 1, items: [{ id: 'a', text: 'hello' }], enqueuedAt: 1 };
    const item = (text: unknown, id: unknown = 'a') => ({ ...good, items: [{ id, text }] });
    const cases: Array<[string, unknown, boolean]> = [
      ['the minimal payload', good, true],
      ['every optional field', { ...good, source: 'twitter', tenant: 'acme', requestId: 'r:1' }, true],
      [
        'unknown fields (ignored)',
        { ...good, priority: 9, items: [{ id: 'a', text: 'x', lang: 'en' }] },
        true,
      ],
      ['a text of exactly the limit', item('x'.repeat(maxChars)), true],
      ['a text one over the limit', item('x'.repeat(maxChars + 1)), false],
      ['a text of whitespace around one character', item(' \u3000x\ufeff '), true],
      ['an empty text', item(''), false],
      ['a text of only whitespace', item(' \t\n\v\f\r'), false],
      [
        'a text of only Unicode spaces',
        item('\u00a0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000\ufeff'),
        false,
      ],
      ['a text of a zero-width space (not whitespace to trim)', item('\u200b'), true],
      ['a text of a Mongolian vowel separator (not whitespace since Unicode 6.3)', item('\u180e'), true],
      ['a text of a next-line control (not whitespace to trim)', item('\u0085'), true],
      ['a text of a lone surrogate', item('\ud800'), true],
      ['a text that is not a string', item(5), false],
      ['a missing text', { ...good, items: [{ id: 'a' }] }, false],
      ['an id of 256 characters', item('x', 'i'.repeat(256)), true],
      ['an id of 257 characters', item('x', 'i'.repeat(257)), false],
      ['an empty id', item('x', ''), false],
      ['an id that is a number', item('x', 7), false],
      ['no items', { ...good, items: [] }, false],
      ['items at the limit', { ...good, items: [good.items[0], good.items[0]] }, true],
      ['items over the limit', { ...good, items: Array(3).fill(good.items[0]) }, false],
      ['an item that is not an object', { ...good, items: ['hello'] }, false],
      ['an item that is an array', { ...good, items: [['a', 'b']] }, false],
      ['version 2', { ...good, v: 2 }, false],
      ['version "1"', { ...good, v: '1' }, false],
      ['no version', { items: good.items, enqueuedAt: 1 }, false],
      ['no enqueuedAt', { v: 1, items: good.items }, false],
      ['a fractional, negative enqueuedAt', { ...good, enqueuedAt: -0.5 }, true],
      ['enqueuedAt as a string', { ...good, enqueuedAt: '1' }, false],
      ['a source of 64 characters', { ...good, source: 's'.repeat(64) }, true],
      ['a source of 65 characters', { ...good, source: 's'.repeat(65) }, false],
      ['the reserved source (the drift monitor writes it)', { ...good, source: 'drift-golden' }, true],
      ['a source with a newline at its end', { ...good, source: 'twitter\n' }, false],
      ['a null source', { ...good, source: null }, false],
      ['a tenant of 40 characters', { ...good, tenant: 't'.repeat(40) }, true],
      ['a tenant of 41 characters', { ...good, tenant: 't'.repeat(41) }, false],
      ['an upper-case tenant', { ...good, tenant: 'Acme' }, false],
      ['a tenant starting with "-"', { ...good, tenant: '-acme' }, false],
      ['a request id of 128 characters', { ...good, requestId: 'r'.repeat(128) }, true],
      ['a request id of 129 characters', { ...good, requestId: 'r'.repeat(129) }, false],
      ['a request id with a space', { ...good, requestId: 'a b' }, false],
      ['an array', [good], false],
      ['null', null, false],
    ];
    for (const [name, value, valid] of cases) {
      expect({
        name,
        schema: validate(value),
        worker: checkClassifyPayload(value, maxChars, maxItems).ok,
      }).toEqual({
        name,
        schema: valid,
        worker: valid,
      });
    }
    // JSON.parse turns a number too large for a double into Infinity: both refuse it.
    const huge = JSON.parse('{"v":1,"items":[{"id":"a","text":"b"}],"enqueuedAt":1e400}');
    expect([validate(huge), checkClassifyPayload(huge, maxChars, maxItems).ok]).toEqual([false, false]);
  });

  it('count characters alike: code points, so an emoji is one character for both', () => {
    const validate = compile(classifyPayloadSchemaV1({ maxTextChars: 10, maxBatchItems: 2 }));
    const emoji = (count: number) => ({
      v: 1,
      items: [{ id: 'a', text: '\u{1F600}'.repeat(count) }],
      enqueuedAt: 1,
    });
    expect([validate(emoji(10)), checkClassifyPayload(emoji(10), 10, 2).ok]).toEqual([true, true]);
    expect(validate(emoji(11))).toBe(false);
    expect(checkClassifyPayload(emoji(11), 10, 2)).toEqual({
      ok: false,
      reason: 'items[0].text must be at most 10 characters (got 11)',
    });
  });

  it('names exactly the characters String.prototype.trim removes as whitespace, over all of Unicode', () => {
    const notOnlyWhitespace = new RegExp(NOT_ONLY_WHITESPACE_PATTERN, 'u');
    const differences: string[] = [];
    for (let code = 0; code <= 0x10ffff; code++) {
      const character = String.fromCodePoint(code);
      if (notOnlyWhitespace.test(character) !== character.trim().length > 0)
        differences.push(code.toString(16));
    }
    expect(differences).toEqual([]);
  });

  it('is built from the constants the validator uses', () => {
    const schema = classifyPayloadSchemaV1();
    expect(schema.properties.source.pattern).toBe(SOURCE_PATTERN.source);
    expect(schema.properties.tenant.pattern).toBe(TENANT_PATTERN.source);
    expect(schema.properties.requestId.pattern).toBe(REQUEST_ID_PATTERN.source);
    expect(schema.properties.items.maxItems).toBe(DEFAULT_MAX_BATCH_ITEMS);
    expect(schema.$defs.textItem.properties.text.maxLength).toBe(DEFAULT_MAX_TEXT_CHARS);
    const validate = compile(schema);
    for (const example of schema.examples) {
      expect(validate(example)).toBe(true);
      expect(checkClassifyPayload(example, DEFAULT_MAX_TEXT_CHARS, DEFAULT_MAX_BATCH_ITEMS).ok).toBe(true);
    }
  });
});

describe('the classify result schema (v1)', () => {
  const validate = compile(classifyResultSchemaV1);
  const unit = fc.double({ min: 0, max: 1, noNaN: true });
  const prediction: fc.Arbitrary<Prediction> = fc.record({
    id: fc.string({ minLength: 1, maxLength: 20 }),
    label: fc.constantFrom(...SENTIMENT_LABELS),
    scores: fc.record({ negative: unit, neutral: unit, positive: unit }),
    tokens: fc.integer({ min: 2, max: 512 }),
    truncated: fc.boolean(),
  });
  const result: fc.Arbitrary<ClassifyJobResultV1> = fc.record({
    v: fc.constant(1 as const),
    model: fc.record({ name: fc.string(), version: fc.string() }),
    predictions: fc.array(prediction, { maxLength: 5 }),
    timings: fc.record({ queueMs: fc.nat(), processingMs: fc.nat() }),
  });

  it('accepts every value of the TypeScript type', () => {
    fc.assert(
      fc.property(result, (value) => {
        expect(validate(JSON.parse(JSON.stringify(value)))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it.each([
    ['another version', (r: ClassifyJobResultV1) => ({ ...r, v: 2 })],
    ['no model', ({ model: _model, ...r }: ClassifyJobResultV1) => r],
    ['no timings', ({ timings: _timings, ...r }: ClassifyJobResultV1) => r],
    [
      'an unknown label',
      (r: ClassifyJobResultV1) => ({ ...r, predictions: [{ ...r.predictions[0], label: 'happy' }] }),
    ],
    [
      'a score over 1',
      (r: ClassifyJobResultV1) => ({
        ...r,
        predictions: [{ ...r.predictions[0], scores: { negative: 2, neutral: 0, positive: 0 } }],
      }),
    ],
    [
      'fractional tokens',
      (r: ClassifyJobResultV1) => ({ ...r, predictions: [{ ...r.predictions[0], tokens: 2.5 }] }),
    ],
    [
      'a prediction without truncated',
      (r: ClassifyJobResultV1) => ({ ...r, predictions: [{ ...r.predictions[0], truncated: undefined }] }),
    ],
  ])('refuses %s', (_name, mutate) => {
    const sample: ClassifyJobResultV1 = {
      v: 1,
      model: { name: 'm', version: 'fp32-1' },
      predictions: [
        {
          id: 'a',
          label: 'neutral',
          scores: { negative: 0.1, neutral: 0.8, positive: 0.1 },
          tokens: 5,
          truncated: false,
        },
      ],
      timings: { queueMs: 1, processingMs: 2 },
    };
    expect(validate(sample)).toBe(true);
    expect(validate(JSON.parse(JSON.stringify(mutate(sample))))).toBe(false);
  });
});

describe('the schema files', () => {
  it('are the type-level ties', () => {
    expect(typesMatch.every(Boolean)).toBe(true);
  });

  it.each(['libs/contracts/schema', 'docs/schema'])(
    '%s holds exactly the schemas of src/job-schemas.ts (nx run contracts:write-schemas)',
    (dir) => {
      const files = jobSchemaFiles();
      const path = join(WORKSPACE, dir);
      expect(existsSync(path)).toBe(true);
      expect(
        readdirSync(path)
          .filter((name) => name.endsWith('.schema.json'))
          .sort(),
      ).toEqual(Object.keys(files).sort());
      for (const [name, schema] of Object.entries(files)) {
        const text = readFileSync(join(path, name), 'utf8');
        expect(JSON.parse(text)).toEqual(JSON.parse(schemaFileText(schema)));
        // Non-ASCII characters (the whitespace class) stay escapes, readable in any editor.
        expect(text).toMatch(/^[\x20-\x7e\n]*$/);
      }
    },
  );
});
