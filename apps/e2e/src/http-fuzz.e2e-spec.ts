import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { writeGoldenSet } from '@reputation-monitor/app-harness';
import { SHARED_DATA } from './support/paths';
import { AppProcess, startDriftMonitor, startGateway, startWorker, stopAll } from './support/apps';
import { connectRedis, deletePrefix, uniquePrefix } from './support/redis';
import { RawRequest, RawResponse, rawRequest } from './support/raw-http';
import { JsonEntries, OMIT, RawJson, encodeJson, percentEncode, preview } from './support/fuzz-json';

/*
 * Property-based fuzzing of both HTTP apps (gateway, drift monitor), with one inference worker serving the tiny
 * synthetic model so that valid texts really reach ONNX Runtime. Every request goes over a raw socket to
 * 127.0.0.1 (see support/raw-http.ts), so methods, paths, header bytes and body bytes are exactly as generated.
 *
 * The property, for every generated request:
 *   1. a complete answer arrives within FUZZ_TIME_LIMIT_MS (default 5 s): nothing hangs or burns CPU unboundedly;
 *   2. its status is below 500;
 *   3. a 4xx from the apps' own routes is `application/problem+json` whose JSON body carries `status` (equal
 *      to the HTTP status) and a string `code`.
 * And once all runs are done: every process is still running, answers /health/live, and nothing a request sent
 * (`__proto__`, `constructor.prototype`) changed how the next request is validated.
 *
 * The apps: one worker (tiny model); a gateway with a client key (tenant "fuzz") and an admin key, SYNC_TIMEOUT_MS
 * 2 s (a busy worker means a 202, not a slow answer), RATE_LIMIT_PER_MINUTE so high that the limiter runs but never
 * refuses, and an empty model registry (admin changes end in 404/409 and never switch the worker's model); a drift
 * monitor with the same keys, a 20-tweet golden set scored through the worker and 5-minute windows. With the
 * worker up and Redis reachable no 503 is expected, so every 5xx counts, 503 included.
 *
 * Exempt from 3 (still bound by 1 and 2), decided here:
 *   - Bull Board under /admin/queues: a third-party UI with its own router and answers (a text 401 with a Basic
 *     prompt, its own JSON errors);
 *   - Swagger UI under /docs (static assets served by swagger-ui-express);
 *   - a bare answer of Node's HTTP parser (no Date, no Content-Type, no body), counted apart in the histogram as
 *     `400(node)` etc. The apps answer what Node's parser refuses (a bad request line or header, 431 headers too
 *     large, an unknown `Expect`) with problem+json themselves (answerMalformedRequests), so none is expected.
 *
 * Settings (environment):
 *   FUZZ_SEED           seed of every property (default 20240917; printed at the start)
 *   FUZZ_RUNS           generated requests in total across all categories (default 15000)
 *   FUZZ_TIME_LIMIT_MS  time limit per request (default 5000)
 *   FUZZ_CONCURRENCY    categories fuzzed at once (default 4; heavy requests run alone on their app)
 *   FUZZ_ONLY           comma-separated category names to run (replay)
 *   FUZZ_PATH           fast-check path of a counterexample to replay (with FUZZ_SEED and FUZZ_ONLY)
 *   FUZZ_SHRINK_MS      time a category may spend shrinking its first counterexample (default 15000)
 *   FUZZ_SURVEY=1       record every violation and keep going instead of failing (lists all distinct failures)
 *   FUZZ_LOG_DIR        write each app's output there at the end (the stacks behind 500s)
 *
 * A replay is exact for the request, except where an arbitrary samples ids the apps handed out earlier (job and
 * report ids): those depend on what ran before.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20_240_917);
const TOTAL_RUNS = Number(process.env.FUZZ_RUNS ?? 15_000);
const TIME_LIMIT_MS = Number(process.env.FUZZ_TIME_LIMIT_MS ?? 5_000);
const CONCURRENCY = Number(process.env.FUZZ_CONCURRENCY ?? 4);
const ONLY = process.env.FUZZ_ONLY?.split(',').map((name) => name.trim());
const REPLAY_PATH = process.env.FUZZ_PATH;
const SHRINK_BUDGET_MS = Number(process.env.FUZZ_SHRINK_MS ?? 15_000);
const SURVEY = process.env.FUZZ_SURVEY === '1';

const CLIENT_KEY = 'fuzz-client-key-0123456789abcdef';
const ADMIN_KEY = 'fuzz-admin-key-0123456789abcdef';
const prefix = uniquePrefix('fuzz');

type AppName = 'gateway' | 'drift';
type Header = [string, string | Buffer];

interface FuzzRequest extends RawRequest {
  app: AppName;
  /** The route the request aims at, for the histogram: `POST /v1/sentiment`, `* (random path)`. */
  route: string;
  /** How the body was built, for reports (a 5 MB body is not printed). */
  recipe: string;
  /** Runs alone on its app, so its cost is never blamed on a concurrent request. */
  heavy: boolean;
}

function fuzzRequest(fields: Omit<FuzzRequest, typeof fc.toStringMethod>): FuzzRequest {
  return Object.assign(fields, { [fc.toStringMethod]: () => describeRequest(fields) });
}

function describeRequest(request: Omit<FuzzRequest, typeof fc.toStringMethod>): string {
  const headers = request.headers.map(([name, value]) => `${name}: ${preview(value, 80)}`).join(' | ');
  return (
    `${request.app} ${JSON.stringify(request.method)} ${preview(request.path, 200)}` +
    `\n    headers: ${headers || '(none)'}${request.chunked ? ' | (chunked body)' : ''}` +
    `\n    body: ${request.recipe}; ${preview(request.body, 300)}`
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------------------------

const TWEETS = [
  'Loving the new update, great job @acme!',
  'Worst customer service I have ever had. Never again.',
  'The store opens at 9am tomorrow.',
  'meh',
  'RT @someone: this is 🔥🔥🔥 https://t.co/abc123',
  '¡Qué mal servicio! 😡 #fail',
  '这个产品很好用，推荐！',
  'مرحبا، الخدمة ممتازة',
  'Not sure how I feel about the redesign... some parts are nice, others are really confusing',
  '@acme @acme @acme http://a.b http://c.d',
];
/** Client ids the suite classifies first, so feedback and job lookups sometimes hit real records. */
const CLIENT_IDS = Array.from({ length: 8 }, (_, i) => `fz-${i}`);
/** Report ids of the drift monitor's first runs (filled before fuzzing starts). */
const reportIds: string[] = [];
/** Job ids the gateway handed out (jobs are scoped to the caller's tenant, so they cannot be guessed). */
const jobIds: string[] = [];
/** Sampled at generation time: which ids exist depends on what earlier requests did, so a replay may differ here. */
const sampleOf = (pool: string[], fallback: string) =>
  fc.nat().map((i) => (pool.length > 0 ? pool[i % pool.length] : fallback));

const optional = <T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | typeof OMIT> =>
  fc.option(arbitrary, { nil: OMIT, freq: 3 });

const loneSurrogates = fc
  .array(fc.integer({ min: 0xd800, max: 0xdfff }), { minLength: 1, maxLength: 6 })
  .map((codes) => `x${String.fromCharCode(...codes)}`);
const controlChars = fc
  .array(fc.integer({ min: 0, max: 0x1f }), { minLength: 1, maxLength: 12 })
  .map((codes) => `${String.fromCharCode(...codes)}ok`);

/** Texts that are valid for the API (mostly) but odd for a tokenizer. */
const oddText = fc.oneof(
  loneSurrogates,
  controlChars,
  fc.constantFrom(
    '\ud83d',
    'a\udfffb',
    '\u202eevil',
    '\ufeffbom',
    'zero\u200bwidth',
    'x\u0000y',
    'line\u2028sep\u2029',
    '﷽'.repeat(50),
    `e${'\u0301'.repeat(1_000)}`,
    '👨‍👩‍👧‍👦'.repeat(100),
    '😀'.repeat(2_500),
    '😀'.repeat(2_501),
    '\u{10ffff}\u{e0001}\u{fffe}',
    '$(reboot) `id` ${7*7} {{7*7}} <script>alert(1)</script>',
    "' OR 1=1 --",
    '%s%n%x%d',
    '../../../../etc/passwd',
  ),
  fc.integer({ min: 4_990, max: 5_010 }).map((n) => 'x'.repeat(n)),
  // Up to 2,500 tokens: past the model's 512, so truncation runs.
  fc.integer({ min: 1, max: 2_500 }).map((n) => 'a '.repeat(n)),
);

const textArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...TWEETS) },
  { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 60 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 60 }) },
  { weight: 2, arbitrary: oddText },
);

const weirdString = fc.oneof(
  { weight: 4, arbitrary: textArb },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '\t\n', '\u00a0', '\u3000', '\u200b') },
  { weight: 1, arbitrary: fc.integer({ min: 5_001, max: 200_000 }).map((n) => 'y'.repeat(n)) },
);

const weirdNumber = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, 1, 2, 3, -1, 0.5, 2 ** 53 + 2, Number.MAX_VALUE, Number.MIN_VALUE),
  fc
    .constantFrom(
      '1e309',
      '-1e309',
      '-0',
      '1e-400',
      '123456789012345678901234567890',
      '0.000000000000000000000001',
      '1E2',
      '-0.0',
    )
    .map((literal) => new RawJson(literal)),
);

const pollution = fc.constantFrom(
  new JsonEntries([
    [
      '__proto__',
      new JsonEntries([
        ['polluted', 'yes'],
        ['text', 'from-proto'],
        ['isAdmin', true],
      ]),
    ],
  ]),
  new JsonEntries([
    ['constructor', new JsonEntries([['prototype', new JsonEntries([['polluted', 'yes']])]])],
  ]),
  new JsonEntries([['__proto__', null]]),
  new JsonEntries([
    ['toString', 'x'],
    ['valueOf', 1],
    ['hasOwnProperty', 'no'],
  ]),
);

const weirdValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: weirdString },
  { weight: 2, arbitrary: weirdNumber },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>([], {}, [[]], [null], { '': '' }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: pollution },
  { weight: 1, arbitrary: fc.array(textArb, { maxLength: 3 }) },
);

const extraKey = fc.oneof(
  fc.constantFrom(
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    'hasOwnProperty',
    '__defineGetter__',
    '',
    ' ',
    'TEXT',
    'text ',
    'items[0]',
    'a.b',
    '$where',
    '\u0000',
    'length',
    '0',
  ),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
);

/** A well-formed object whose fields are sometimes of the wrong type or left out, plus sometimes extra fields. */
function mutated(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<JsonEntries> {
  const slots: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [key, valid] of Object.entries(fields)) {
    slots[key] = fc.oneof(
      { weight: 10, arbitrary: valid },
      { weight: 1, arbitrary: weirdValue },
      { weight: 1, arbitrary: fc.constant(OMIT) },
    );
  }
  const extras = fc.oneof(
    { weight: 5, arbitrary: fc.constant<Array<[string, unknown]>>([]) },
    { weight: 1, arbitrary: fc.array(fc.tuple(extraKey, weirdValue), { minLength: 1, maxLength: 3 }) },
  );
  return fc
    .tuple(fc.record(slots), extras)
    .map(
      ([values, more]) =>
        new JsonEntries([...Object.keys(fields).map((key) => [key, values[key]] as const), ...more]),
    );
}

const idArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...CLIENT_IDS) },
  { weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,40}$/) },
  { weight: 1, arbitrary: fc.constantFrom('a:b', 'x'.repeat(129), '-lead', 'ünï', '', 't-fz-1', '..') },
);
const sourceArb = fc.oneof(
  fc.constantFrom('twitter', 'news', 'reddit'),
  fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/),
  fc.constantFrom('my source', 's'.repeat(65), ''),
);
const labelArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom<unknown>('negative', 'neutral', 'positive', 0, 1, 2) },
  {
    weight: 2,
    arbitrary: fc.constantFrom<unknown>('NEGATIVE', 'Positive', 'neutral ', 'neg', '', 3, -1, 1.5, '0', '2'),
  },
);

const sentimentBody = mutated({ text: textArb, id: optional(idArb), source: optional(sourceArb) });
const batchItem = mutated({ text: textArb, id: optional(idArb) });
const batchBody = mutated({
  items: fc.oneof(
    { weight: 8, arbitrary: fc.array(batchItem, { minLength: 1, maxLength: 8 }) },
    { weight: 1, arbitrary: fc.array(batchItem, { minLength: 255, maxLength: 258 }) },
    { weight: 1, arbitrary: fc.constant([]) },
  ),
  source: optional(sourceArb),
});
const feedbackItem = mutated({
  id: fc.oneof(fc.constantFrom(...CLIENT_IDS), idArb, fc.uuid()),
  label: labelArb,
  text: optional(textArb),
});
const exampleItem = mutated({ text: textArb, label: labelArb, source: optional(sourceArb) });
const itemsOf = (item: fc.Arbitrary<JsonEntries>) =>
  mutated({
    items: fc.oneof(
      { weight: 8, arbitrary: fc.array(item, { minLength: 1, maxLength: 6 }) },
      { weight: 1, arbitrary: fc.array(item, { minLength: 257, maxLength: 258 }) },
      { weight: 1, arbitrary: fc.constant([]) },
    ),
  });

const reasonArb = fc.oneof(
  fc.string({ minLength: 1, maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('', 'r'.repeat(500), 'r'.repeat(501)),
);
const versionArb = fc.oneof(
  fc.constantFrom(
    'candidate-fp32-9c0e1d2f3a4b',
    'fp32-e64ee31cd025',
    'synthetic-tiny',
    'main',
    'HEAD',
    '..',
    '.',
    '/',
    '../../etc',
    '/etc/passwd',
    'v'.repeat(200),
    'v'.repeat(201),
    '',
  ),
  fc.string({ maxLength: 30 }),
);
const promoteBody = mutated({ version: versionArb, reason: reasonArb, force: optional(fc.boolean()) });
const rollbackBody = mutated({ reason: reasonArb });
const candidateBody = mutated({
  version: versionArb,
  mode: fc.constantFrom('shadow', 'canary', 'SHADOW', 'off', ''),
  share: fc.oneof(fc.double({ min: 0, max: 1 }), fc.constantFrom(0, 1, 1.0000001, -0.1, 1e-9, 2)),
  reason: reasonArb,
});

const NOW = Date.now();
const DAY = 86_400_000;
const windowEndArb = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.integer({ min: NOW - 30 * DAY, max: NOW }).map((ms) => new Date(ms).toISOString()),
  },
  {
    weight: 1,
    arbitrary: fc
      .date({
        min: new Date('0000-01-01T00:00:00Z'),
        max: new Date('9999-12-31T23:59:59Z'),
        noInvalidDate: true,
      })
      .map((date) => date.toISOString()),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '1970-01-01T00:00:00Z',
      '0000-01-01T00:00:00Z',
      '1969-12-31T23:59:59.999Z',
      '2025-13-45T99:99:99Z',
      '2025-01-02T03:00:00+23:59',
      '2025-01-02T03:00:00-23:59',
      '2025-01-02T03:00:00.123456789Z',
      '2025-02-30T00:00Z',
      '2025-01-02',
      'yesterday',
      '',
      '9999-12-31T23:59:59Z',
      new Date(NOW + 30_000).toISOString(),
    ),
  },
);
const runsBody = mutated({ windowEnd: optional(windowEndArb), retrain: optional(fc.boolean()) });

// ---------------------------------------------------------------------------------------------------------------
// Headers
// ---------------------------------------------------------------------------------------------------------------

const headers = (...pairs: Header[]): Header[] => pairs;
const basic = (userAndKey: string) => `Basic ${Buffer.from(userAndKey).toString('base64')}`;

const badAuth: fc.Arbitrary<Header[]> = fc.oneof(
  fc.constantFrom(
    headers(['authorization', 'Bearer']),
    headers(['authorization', 'Bearer ']),
    headers(['authorization', `bearer    ${CLIENT_KEY}`]),
    headers(['authorization', `Bearer ${CLIENT_KEY}x`]),
    headers(['authorization', `Bearer ${CLIENT_KEY.slice(0, -1)}`]),
    headers(['authorization', CLIENT_KEY]),
    headers(['authorization', `Token ${CLIENT_KEY}`]),
    headers(['authorization', basic(`:${CLIENT_KEY}`)]),
    headers(['authorization', basic(CLIENT_KEY)]),
    headers(['authorization', basic(`admin:${ADMIN_KEY}`)]),
    headers(['authorization', 'Basic !!!!']),
    headers(['authorization', `Basic ${'='.repeat(2_000)}`]),
    headers(['authorization', 'Basic']),
    headers(['authorization', 'Digest username="x", realm="y", nonce="z"']),
    headers(['x-api-key', '']),
    headers(['x-api-key', ' ']),
    headers(['x-api-key', CLIENT_KEY], ['x-api-key', CLIENT_KEY]),
    headers(['x-api-key', `${CLIENT_KEY},${CLIENT_KEY}`]),
    headers(['authorization', `Bearer ${CLIENT_KEY}`], ['authorization', 'Bearer wrong-wrong-wrong-wrong']),
    headers(['authorization', 'Bearer wrong-wrong-wrong-wrong'], ['authorization', `Bearer ${CLIENT_KEY}`]),
    headers(['x-api-key', 'wrong'], ['authorization', `Bearer ${CLIENT_KEY}`]),
    headers(['X-API-KEY', CLIENT_KEY]),
    headers(['authorization', `Bearer ${CLIENT_KEY}\t`]),
  ),
  fc
    .uint8Array({ maxLength: 64 })
    .map((bytes) => headers(['authorization', `Basic ${Buffer.from(bytes).toString('base64')}`])),
  fc.string({ unit: 'binary', maxLength: 40 }).map((text) => headers(['authorization', basic(`u:${text}`)])),
  fc.string({ maxLength: 60 }).map((text) => headers(['authorization', `Bearer ${text}`])),
  fc.string({ unit: 'grapheme', maxLength: 30 }).map((text) => headers(['x-api-key', text])),
  fc.integer({ min: 1_000, max: 15_000 }).map((n) => headers(['authorization', `Bearer ${'k'.repeat(n)}`])),
  fc.integer({ min: 17_000, max: 40_000 }).map((n) => headers(['x-api-key', 'k'.repeat(n)])),
);

/** Mostly a key that gets through, so bodies reach validation; `admin` prefers the admin key. */
const authArb = (admin = false): fc.Arbitrary<Header[]> =>
  fc.oneof(
    {
      weight: 12,
      arbitrary: fc.constant(headers(['authorization', `Bearer ${admin ? ADMIN_KEY : CLIENT_KEY}`])),
    },
    { weight: 3, arbitrary: fc.constant(headers(['x-api-key', admin ? ADMIN_KEY : CLIENT_KEY])) },
    {
      weight: 1,
      arbitrary: fc.constant(headers(['authorization', `Bearer ${admin ? CLIENT_KEY : ADMIN_KEY}`])),
    },
    { weight: 1, arbitrary: fc.constant(headers()) },
    { weight: 3, arbitrary: badAuth },
  );
const goodAuth = (admin = false): Header[] => [['authorization', `Bearer ${admin ? ADMIN_KEY : CLIENT_KEY}`]];

const CONTENT_TYPES = [
  'application/json; charset=utf-8',
  'application/json;charset=UTF-8',
  'APPLICATION/JSON',
  'application/json; charset=latin1',
  'application/json; charset=utf-16le',
  'application/json; charset=bogus',
  'application/json; charset="utf-8"',
  'application/json; boundary=x; q=1',
  'application/json, text/plain',
  'application/problem+json',
  'application/vnd.api+json',
  'text/json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=----x',
  'application/octet-stream',
  '',
  ';;;',
  'application/',
  '/json',
  '*/*',
];
const contentTypeArb: fc.Arbitrary<Header[]> = fc.oneof(
  { weight: 20, arbitrary: fc.constant(headers(['content-type', 'application/json'])) },
  { weight: 3, arbitrary: fc.constantFrom(...CONTENT_TYPES).map((type) => headers(['content-type', type])) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((type) => headers(['content-type', type])) },
  { weight: 1, arbitrary: fc.constant(headers()) },
  {
    weight: 1,
    arbitrary: fc.constant(headers(['content-type', 'text/plain'], ['content-type', 'application/json'])),
  },
);

const extraHeaderArb: fc.Arbitrary<Header> = fc.oneof(
  fc
    .oneof(
      fc.string(),
      fc.uuid(),
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.integer({ min: 100, max: 8_000 }).map((n) => 'r'.repeat(n)),
    )
    .map((value): Header => ['x-request-id', value]),
  fc
    .constantFrom('*/*', 'application/json', 'text/html', 'application/problem+json', '', 'garbage;;q=x')
    .map((value): Header => ['accept', value]),
  fc.constantFrom('gzip', 'br', '*', 'identity;q=0').map((value): Header => ['accept-encoding', value]),
  fc
    .constantFrom('bogus', 'identity', 'gzip', 'deflate, gzip')
    .map((value): Header => ['content-encoding', value]),
  fc.constantFrom('100-continue', 'bogus').map((value): Header => ['expect', value]),
  fc.constantFrom('1.2.3.4, evil', 'unknown').map((value): Header => ['x-forwarded-for', value]),
  fc.constantFrom('DELETE', 'PUT').map((value): Header => ['x-http-method-override', value]),
  fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,20}$/), fc.string({ maxLength: 40 })),
);
const extraHeadersArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Header[]>([]) },
  { weight: 1, arbitrary: fc.array(extraHeaderArb, { minLength: 1, maxLength: 4 }) },
);

/** Header sets Node's parser or the apps must survive: control bytes, odd names, sizes, framing conflicts. */
const garbageHeadersArb: fc.Arbitrary<Header[]> = fc.oneof(
  fc.array(
    fc.tuple(
      fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,12}$/),
      fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 30 }).map((bytes) => Buffer.from(bytes)),
    ),
    { minLength: 1, maxLength: 5 },
  ),
  fc.array(
    fc.tuple(fc.string({ unit: 'binary', minLength: 1, maxLength: 10 }), fc.string({ maxLength: 10 })),
    {
      minLength: 1,
      maxLength: 3,
    },
  ),
  fc
    .integer({ min: 50, max: 3_000 })
    .map((n) => Array.from({ length: n }, (_, i): Header => [`x-many-${i}`, String(i)])),
  fc.integer({ min: 8_000, max: 40_000 }).map((n) => headers(['x-request-id', 'q'.repeat(n)])),
  fc.integer({ min: 1, max: 200 }).map((n) => headers(['cookie', 'a=b; '.repeat(n)])),
  fc.constantFrom(
    headers(['content-length', '1'], ['content-length', '2']),
    headers(['transfer-encoding', 'chunked']),
    headers(['transfer-encoding', 'gzip, chunked']),
    headers(['host', '']),
    headers(['host', 'evil.example:80']),
    headers(['host', 'a'], ['host', 'b']),
    headers(['x-request-id', 'a\r\nx-injected: 1']),
    headers(['authorization', `Bearer ${CLIENT_KEY}\r\n`]),
    headers(['x-api-key', `${CLIENT_KEY}\u0000`]),
    headers(['x-api-key', Buffer.from([0xff, 0xfe, 0x80])]),
    headers(['content-type', 'application/json\u0000text/plain']),
    headers([' x-space', '1']),
    headers(['x-colon:', '1']),
    headers(['', 'empty-name']),
  ),
);

// ---------------------------------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------------------------------

interface Body {
  data?: string | Buffer;
  recipe: string;
  /** Replaces the generated content-type / adds content-encoding where the body needs it. */
  headers?: Header[];
  heavy?: boolean;
}

const jsonBody = (value: unknown, recipe: string): Body => ({ data: encodeJson(value), recipe });

const INVALID_JSON = [
  "{'text': 'single quotes'}",
  '{text: "unquoted key"}',
  '{"text":"trailing comma",}',
  '[1,]',
  '{"text":"a"}garbage',
  '{"text":"a"}{"text":"b"}',
  '{"text":"\\uZZZZ"}',
  '{"text":"\\x41"}',
  '{"text":"raw\ttab and\nnewline"}',
  'NaN',
  'undefined',
  'null',
  'true',
  '"a string"',
  '12',
  '{"text":NaN}',
  '{"text":Infinity}',
  '{"text":"a","text":1}',
  '{"text":"\\ud800\\udc00\\u0000"}',
  '{"text":"ok","id":1e999999}',
  '{"__proto__":{"text":"x"}}',
  '\ufeff{"text":"bom"}',
  '',
  ' ',
  '\n\n',
  '{',
  '}',
  '[',
  '{"',
  '{"text"',
  '{"text":',
  '{"text":"',
  '/* comment */ {"text":"x"}',
];
const INVALID_UTF8 = [
  [0xff],
  [0xfe, 0xff],
  [0xc0, 0x80],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xe2, 0x82],
  [0x80],
];

const CHARSETS = ['utf-16be', 'utf-16', 'utf-32le', 'utf-32be', 'utf-7', 'UTF-16LE'] as const;

/** The text in a charset body-parser accepts (iconv-lite) but Node's Buffer may not know. */
function encodeAs(text: string, charset: (typeof CHARSETS)[number]): Buffer {
  const utf16be = () => Buffer.from(text, 'utf16le').swap16();
  const utf32 = (littleEndian: boolean) => {
    const points = [...text].map((char) => char.codePointAt(0) ?? 0);
    const out = Buffer.alloc(points.length * 4);
    points.forEach((point, i) =>
      littleEndian ? out.writeUInt32LE(point, i * 4) : out.writeUInt32BE(point, i * 4),
    );
    return out;
  };
  switch (charset) {
    case 'utf-16be':
      return utf16be();
    case 'utf-16':
      return Buffer.concat([Buffer.from([0xfe, 0xff]), utf16be()]);
    case 'utf-32le':
      return utf32(true);
    case 'utf-32be':
      return utf32(false);
    case 'utf-7':
      // ASCII only: every other character as a JSON escape, "+" as UTF-7's "+-".
      return Buffer.from(
        text
          .replace(/[\u0080-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`)
          .replace(/\+/g, '+-'),
        'ascii',
      );
    case 'UTF-16LE':
      return Buffer.from(text, 'utf16le');
  }
}

let gzipBomb: Buffer | undefined;
/** 64 MB of spaces inside a JSON string, gzipped to ~64 KB: the limit must apply to what is inflated. */
const bomb = () =>
  (gzipBomb ??= gzipSync(
    Buffer.concat([Buffer.from('{"text":"'), Buffer.alloc(64 << 20, 0x20), Buffer.from('"}')]),
  ));

/** Bodies that are not what a route expects: arbitrary JSON, broken JSON, wrong bytes, other encodings. */
function garbageBody(valid: fc.Arbitrary<JsonEntries>, hugeBytes: [number, number]): fc.Arbitrary<Body> {
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.jsonValue().map((value) => ({ data: JSON.stringify(value), recipe: 'fc.jsonValue' })),
    },
    {
      weight: 3,
      arbitrary: fc.tuple(valid, fc.nat()).map(([value, cut]): Body => {
        const text = encodeJson(value);
        const at = cut % Math.max(1, text.length);
        return {
          data: text.slice(0, at),
          recipe: `well-formed body truncated at char ${at} of ${text.length}`,
        };
      }),
    },
    {
      weight: 3,
      arbitrary: fc.constantFrom(...INVALID_JSON).map((data) => ({ data, recipe: 'invalid JSON' })),
    },
    {
      weight: 2,
      arbitrary: fc
        .uint8Array({ maxLength: 200 })
        .map((bytes) => ({ data: Buffer.from(bytes), recipe: 'random bytes' })),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          fc.constantFrom(...INVALID_UTF8),
          fc.constantFrom('text', 'id', 'label', 'windowEnd', 'reason', 'version'),
        )
        .map(([bytes, field]) => ({
          data: Buffer.concat([Buffer.from(`{"${field}":"ok`), Buffer.from(bytes), Buffer.from('x"}')]),
          recipe: `invalid UTF-8 ${JSON.stringify(bytes)} inside the "${field}" string`,
        })),
    },
    {
      weight: 1,
      arbitrary: valid.map((value) => ({
        data: Buffer.from(encodeJson(value), 'utf16le'),
        recipe: 'UTF-16LE body declared as utf-16le',
        headers: headers(['content-type', 'application/json; charset=utf-16le']),
      })),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom<Body>(
        {
          data: gzipSync(Buffer.from('{"text":"gzipped"}')),
          recipe: 'gzip body',
          headers: headers(['content-type', 'application/json'], ['content-encoding', 'gzip']),
        },
        {
          data: Buffer.from('not gzip at all'),
          recipe: 'content-encoding gzip, plain bytes',
          headers: headers(['content-type', 'application/json'], ['content-encoding', 'gzip']),
        },
        {
          data: '{"text":"x"}',
          recipe: 'unknown content-encoding',
          headers: headers(['content-type', 'application/json'], ['content-encoding', 'zstd-bogus']),
        },
        {
          get data() {
            return bomb();
          },
          recipe: 'gzip bomb: 64 MB of JSON inflated from ~64 KB',
          headers: headers(['content-type', 'application/json'], ['content-encoding', 'gzip']),
          heavy: true,
        },
      ),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.oneof(
            valid.map(encodeJson),
            fc.tuple(shapeArb, depthArb).map(([shape, depth]) => `{"text":${nest(shape, depth)}}`),
          ),
          fc.constantFrom(...CHARSETS),
        )
        .map(([text, charset]) => ({
          data: encodeAs(text, charset),
          recipe: `${text.length > 200 ? 'a deeply nested body' : 'a body'} encoded as ${charset}`,
          headers: headers(['content-type', `application/json; charset=${charset}`]),
          heavy: text.length > 10_000,
        })),
    },
    {
      weight: 1,
      arbitrary: fc.integer({ min: hugeBytes[0], max: hugeBytes[1] }).map((n) => ({
        data: `{"text":"${'z'.repeat(n)}"}`,
        recipe: `one ${n}-char string (over the body limit)`,
        heavy: n > 1 << 20,
      })),
    },
  );
}

type Shape = 'array' | 'object' | 'mixed' | 'unterminated';
function nest(shape: Shape, depth: number): string {
  switch (shape) {
    case 'array':
      return '['.repeat(depth) + '1' + ']'.repeat(depth);
    case 'object':
      return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
    case 'mixed':
      return '[{"a":'.repeat(Math.ceil(depth / 2)) + '"x"' + '}]'.repeat(Math.ceil(depth / 2));
    case 'unterminated':
      return '['.repeat(depth);
  }
}
const depthArb = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 5_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 5_000, max: 100_000 }) },
);
const shapeArb = fc.constantFrom<Shape>('array', 'object', 'mixed', 'unterminated');

/** `$` in a template is replaced by the nested value. */
function nestedBody(templates: string[]): fc.Arbitrary<Body> {
  return fc.tuple(fc.constantFrom(...templates), shapeArb, depthArb).map(([template, shape, depth]) => ({
    data: template.replace('$', nest(shape, depth)),
    recipe: `${template} with $ = ${shape} nesting of depth ${depth}`,
    heavy: true,
  }));
}

// ---------------------------------------------------------------------------------------------------------------
// Routes and paths
// ---------------------------------------------------------------------------------------------------------------

interface Route {
  app: AppName;
  method: string;
  path: string;
  admin?: boolean;
  body?: fc.Arbitrary<JsonEntries>;
  /** For the histogram, when the path holds a sample id: `GET /v1/jobs/:id`. */
  label?: string;
}

const GATEWAY_ROUTES: Route[] = [
  { app: 'gateway', method: 'POST', path: '/v1/sentiment', body: sentimentBody },
  { app: 'gateway', method: 'POST', path: '/v1/sentiment/batch', body: batchBody },
  { app: 'gateway', method: 'GET', path: '/v1/jobs/t-fz-1', label: 'GET /v1/jobs/:id' },
  { app: 'gateway', method: 'POST', path: '/v1/feedback', body: feedbackItem },
  { app: 'gateway', method: 'POST', path: '/v1/feedback/batch', body: itemsOf(feedbackItem) },
  { app: 'gateway', method: 'POST', path: '/v1/examples', body: exampleItem },
  { app: 'gateway', method: 'POST', path: '/v1/examples/batch', body: itemsOf(exampleItem) },
  { app: 'gateway', method: 'GET', path: '/v1/admin/models', admin: true },
  { app: 'gateway', method: 'GET', path: '/v1/admin/models/assignment', admin: true },
  { app: 'gateway', method: 'POST', path: '/v1/admin/models/promote', admin: true, body: promoteBody },
  { app: 'gateway', method: 'POST', path: '/v1/admin/models/rollback', admin: true, body: rollbackBody },
  { app: 'gateway', method: 'POST', path: '/v1/admin/models/candidate', admin: true, body: candidateBody },
  { app: 'gateway', method: 'DELETE', path: '/v1/admin/models/candidate?reason=fuzz', admin: true },
  { app: 'gateway', method: 'GET', path: '/health/live' },
  { app: 'gateway', method: 'GET', path: '/health/ready' },
  { app: 'gateway', method: 'GET', path: '/metrics' },
  { app: 'gateway', method: 'GET', path: '/docs' },
  { app: 'gateway', method: 'GET', path: '/docs/openapi.json' },
  { app: 'gateway', method: 'GET', path: '/admin/queues' },
  { app: 'gateway', method: 'GET', path: '/admin/queues/api/queues' },
];
const DRIFT_ROUTES: Route[] = [
  { app: 'drift', method: 'POST', path: '/v1/runs', admin: true, body: runsBody },
  { app: 'drift', method: 'GET', path: '/v1/reports' },
  { app: 'drift', method: 'GET', path: '/v1/reports/latest' },
  {
    app: 'drift',
    method: 'GET',
    path: '/v1/reports/20250101T000000000Z-abcdef',
    label: 'GET /v1/reports/:id',
  },
  { app: 'drift', method: 'GET', path: '/health/live' },
  { app: 'drift', method: 'GET', path: '/health/ready' },
  { app: 'drift', method: 'GET', path: '/metrics' },
];

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
const ODD_METHODS = ['TRACE', 'PROPFIND', 'PURGE', 'SEARCH', 'LINK', 'M-SEARCH', 'get', 'FOO', 'G\u00c9T'];
const methodArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...METHODS) },
  { weight: 1, arbitrary: fc.constantFrom(...ODD_METHODS) },
);

const TRAVERSALS = [
  '/../../../../etc/passwd',
  '/v1/../health/live',
  '/v1/%2e%2e/%2e%2e/etc/passwd',
  '/v1/jobs/..%2f..%2f..%2fetc%2fpasswd',
  '/docs/../../package.json',
  '/docs/%2e%2e/%2e%2e/package.json',
  '/docs/..%5c..%5cpackage.json',
  '/docs/swagger-ui.css/../../../../../etc/passwd',
  '/admin/queues/../../../etc/passwd',
  '/admin/queues/static/..%2f..%2f..%2fpackage.json',
  '/admin/queues/%2e%2e/%2e%2e/package.json',
  '/..;/v1/sentiment',
  '/v1/sentiment/..;/..;/',
  '//etc/passwd',
  '/./v1/./sentiment',
];
const ENCODED = [
  '/%',
  '/%ZZ',
  '/%00',
  '/v1/jobs/%00',
  '/v1/jobs/%',
  '/v1/jobs/%E0%A4%A',
  '/v1/jobs/%C0%AF',
  '/v1/jobs/%FF%FE',
  '/v1/reports/%',
  '/v1/reports/%ED%A0%80',
  '/v1/sentiment%00',
  '/v1/sentiment%2F',
  '/v1/sentiment;x=1',
  '/v1/sentiment#frag',
  '/V1/SENTIMENT',
  '/v1//sentiment',
  '/v1/sentiment/',
  '/health/live?%',
  '/health/live?a=%ZZ',
  '/v1/reports?limit=%',
  '/v1/reports?limit[]=1',
  '/v1/reports?limit=1&limit=2',
  '/v1/reports?limit=%31%30',
  '/v1/admin/models/assignment?history=1&history=2',
  '/v1/admin/models/assignment?history[a]=1',
  '/v1/admin/models/candidate?reason=a&reason=b',
  '/v1/admin/models/candidate?reason[]=x',
  '/v1/sentiment?wait=false&wait=true',
  '/v1/sentiment?wait[x]=1',
  '/v1/sentiment?__proto__[wait]=false',
  '/v1/sentiment?constructor[prototype][x]=1',
  '*',
  '/*',
  '?',
  'http://127.0.0.1/health/live',
  'http://evil.example/v1/sentiment',
  '/metrics?format=%00',
];
const segmentArb = fc.oneof(
  fc.webSegment(),
  fc.string({ unit: 'binary', maxLength: 12 }).map(percentEncode),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.constantFrom(
    '..',
    '.',
    '',
    '%2e%2e',
    '%2F',
    '%5C',
    '%',
    '%Z',
    ';',
    'v1',
    'jobs',
    'queues',
    'api',
    'static',
  ),
);
// The board's API too (a client key reaches it), though no segment names one of its destructive actions.
const ROUTE_PREFIXES = [
  '',
  '/v1',
  '/v1/jobs',
  '/v1/reports',
  '/v1/admin/models',
  '/admin/queues',
  '/admin/queues/api/queues/sentiment',
  '/docs',
  '/health',
];
const randomPathArb = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...TRAVERSALS) },
  { weight: 3, arbitrary: fc.constantFrom(...ENCODED) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(fc.constantFrom(...ROUTE_PREFIXES), fc.array(segmentArb, { maxLength: 6 }))
      .map(([start, segments]) => `${start}/${segments.join('/')}`),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...ROUTE_PREFIXES), fc.webQueryParameters())
      .map(([start, query]) => `${start}?${query}`),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom('/v1/jobs/', '/v1/reports/', '/', '/docs/', '/admin/queues/'),
        fc.integer({ min: 200, max: 20_000 }),
      )
      .map(([start, n]) => start + 'a'.repeat(n)),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom('/v1/reports?', '/v1/sentiment?', '/health/live?'),
        fc.integer({ min: 100, max: 3_000 }),
      )
      .map(([start, n]) => start + Array.from({ length: n }, (_, i) => `k${i}=${i}`).join('&')),
  },
);

// ---------------------------------------------------------------------------------------------------------------
// Categories
// ---------------------------------------------------------------------------------------------------------------

interface Category {
  name: string;
  /** Share of FUZZ_RUNS. */
  weight: number;
  arbitrary: fc.Arbitrary<FuzzRequest>;
}

function assemble(
  route: { app: AppName; method: string; path: string; label?: string },
  parts: { auth: Header[]; contentType?: Header[]; extra?: Header[]; body?: Body; chunked?: boolean },
): FuzzRequest {
  const body = parts.body;
  const contentType = body?.headers ?? parts.contentType ?? [];
  const data = body?.data;
  return fuzzRequest({
    app: route.app,
    route: route.label ?? `${route.method} ${route.path.split('?')[0]}`,
    method: route.method,
    path: route.path,
    headers: [...parts.auth, ...contentType, ...(parts.extra ?? [])],
    body: data === undefined ? undefined : Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8'),
    chunked: parts.chunked && data !== undefined,
    recipe: body?.recipe ?? 'no body',
    heavy: body?.heavy ?? false,
  });
}

const chunkedArb = fc.oneof(
  { weight: 9, arbitrary: fc.constant(false) },
  { weight: 1, arbitrary: fc.constant(true) },
);
const WAIT_QUERIES = [
  '',
  '',
  '',
  '',
  '?wait=false',
  '?wait=true',
  '?wait=maybe',
  '?wait=',
  '?wait=FALSE',
  '?wait=%FF',
];

/** Well-formed requests to one route, fields mutated; headers mostly right. */
function routeBodies(route: Route, queries: string[] = ['']): fc.Arbitrary<FuzzRequest> {
  const body = route.body ?? fc.constant(new JsonEntries([]));
  return fc
    .record({
      auth: authArb(route.admin),
      contentType: contentTypeArb,
      extra: extraHeadersArb,
      value: body,
      query: fc.constantFrom(...queries),
      chunked: chunkedArb,
    })
    .map(({ auth, contentType, extra, value, query, chunked }) =>
      assemble(
        { ...route, path: route.path + query },
        { auth, contentType, extra, chunked, body: jsonBody(value, 'mutated well-formed body') },
      ),
    );
}

/** Any known route, any method, any headers, a body that fits some route or none. */
function anyRoute(routes: Route[]): fc.Arbitrary<FuzzRequest> {
  const bodies = routes.flatMap((route) => (route.body ? [route.body] : []));
  return fc
    .record({
      route: fc.constantFrom(...routes),
      method: fc.oneof(
        { weight: 3, arbitrary: fc.constant<string | undefined>(undefined) },
        { weight: 1, arbitrary: methodArb },
      ),
      auth: fc.constantFrom(true, false).chain((admin) => authArb(admin)),
      contentType: contentTypeArb,
      extra: extraHeadersArb,
      body: fc.oneof(
        {
          weight: 3,
          arbitrary: fc.oneof(...bodies).map((value) => jsonBody(value, 'a well-formed body of some route')),
        },
        {
          weight: 1,
          arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value) => jsonBody(value, 'fc.jsonValue')),
        },
        { weight: 1, arbitrary: fc.constant<Body>({ recipe: 'no body' }) },
      ),
      chunked: chunkedArb,
    })
    .map(({ route, method, auth, contentType, extra, body, chunked }) =>
      assemble(
        {
          app: route.app,
          method: method ?? route.method,
          path: route.path,
          // Other methods on known paths share one histogram line per app.
          label:
            method && method !== route.method
              ? '(other methods on known paths)'
              : (route.label ?? `${route.method} ${route.path.split('?')[0]}`),
        },
        { auth, contentType, extra, body: route.body || method ? body : { recipe: 'no body' }, chunked },
      ),
    );
}

function randomPaths(app: AppName): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      method: methodArb,
      path: randomPathArb,
      auth: authArb(false),
      contentType: contentTypeArb,
      extra: extraHeadersArb,
      body: fc.oneof(
        { weight: 2, arbitrary: fc.constant<Body>({ recipe: 'no body' }) },
        { weight: 1, arbitrary: sentimentBody.map((value) => jsonBody(value, 'a sentiment body')) },
      ),
    })
    .map(({ method, path, auth, contentType, extra, body }) =>
      assemble({ app, method, path, label: '* (random path)' }, { auth, contentType, extra, body }),
    );
}

function garbageHeaders(routes: Route[]): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      route: fc.constantFrom(...routes),
      garbage: garbageHeadersArb,
      keyFirst: fc.boolean(),
    })
    .chain(({ route, garbage, keyFirst }) =>
      (route.body ?? fc.constant(new JsonEntries([]))).map((value) => {
        const auth = goodAuth(route.admin);
        const base: Header[] = [
          ...(route.method === 'POST' ? headers(['content-type', 'application/json']) : []),
        ];
        return assemble(route, {
          auth: keyFirst ? [...auth, ...garbage] : [...garbage, ...auth],
          contentType: base,
          body: route.method === 'POST' ? jsonBody(value, 'mutated well-formed body') : undefined,
        });
      }),
    );
}

function garbageBodies(routes: Route[], hugeBytes: [number, number]): fc.Arbitrary<FuzzRequest> {
  return fc.constantFrom(...routes.filter((route) => route.body)).chain((route) =>
    fc
      .record({
        auth: fc.oneof(
          { weight: 5, arbitrary: fc.constant(goodAuth(route.admin)) },
          { weight: 1, arbitrary: authArb(route.admin) },
        ),
        contentType: contentTypeArb,
        body: garbageBody(route.body as fc.Arbitrary<JsonEntries>, hugeBytes),
        chunked: chunkedArb,
      })
      .map((parts) => assemble(route, parts)),
  );
}

function deepNesting(app: AppName, templates: Array<[string, string, boolean?]>): fc.Arbitrary<FuzzRequest> {
  return fc.limitShrink(
    fc
      .constantFrom(...templates)
      .chain(([path, template, admin]) =>
        fc
          .record({ auth: fc.constant(goodAuth(admin)), body: nestedBody([template]), chunked: chunkedArb })
          .map(({ auth, body, chunked }) =>
            assemble(
              { app, method: 'POST', path },
              { auth, contentType: headers(['content-type', 'application/json']), body, chunked },
            ),
          ),
      ),
    30,
  );
}

const ITEM_KINDS = [
  '{"text":"a"}',
  '{}',
  '1',
  'null',
  '"a"',
  '[]',
  '{"text":"a","id":"x"}',
  '{"id":"fz-1","label":0}',
  '{"text":"a","label":0}',
];

function manyItems(
  app: AppName,
  paths: string[],
  counts: [number, number],
  admin = false,
): fc.Arbitrary<FuzzRequest> {
  return fc.limitShrink(
    fc
      .record({
        path: fc.constantFrom(...paths),
        item: fc.constantFrom(...ITEM_KINDS),
        count: fc.integer({ min: counts[0], max: counts[1] }),
        field: fc.constantFrom('items', 'extra'),
      })
      .map(({ path, item, count, field }) => {
        const list = `[${`${item},`.repeat(count - 1)}${item}]`;
        const data = field === 'items' ? `{"items":${list}}` : `{"text":"a","extra":${list}}`;
        return assemble(
          { app, method: 'POST', path },
          {
            auth: goodAuth(admin),
            contentType: headers(['content-type', 'application/json']),
            body: {
              data,
              recipe: `{"${field}":[${count} × ${item}]} (${data.length} bytes)`,
              heavy: true,
            },
          },
        );
      }),
    20,
  );
}

const JOB_ID_SEGMENTS = fc.oneof(
  { weight: 3, arbitrary: sampleOf(jobIds, 't-fz-1') },
  fc.constantFrom(...CLIENT_IDS.map((id) => `t-${id}`)),
  fc.stringMatching(/^[A-Za-z0-9_.-]{1,200}$/),
  fc.string({ unit: 'binary', maxLength: 40 }).map(percentEncode),
  fc.constantFrom(
    '..',
    '%2e%2e',
    'x'.repeat(201),
    '%20',
    'a%2Fb',
    '0',
    '-1',
    'null',
    'undefined',
    '__proto__',
    'constructor',
  ),
);

const REPORT_ID_SEGMENTS = fc.oneof(
  sampleOf(reportIds, 'latest'),
  fc.stringMatching(/^[0-9]{8}T[0-9]{9}Z-[0-9a-f]{6}$/),
  fc.string({ unit: 'binary', maxLength: 40 }).map(percentEncode),
  fc.constantFrom('latest', 'LATEST', '..', '%2e%2e', '__proto__', 'constructor', 'x'.repeat(5_000)),
);
const LIMITS = ['', 'ten', '1e2', '0x10', '٣', '１０', '10 ', '+10', '00010', '1234567', '%', '-0'];
const limitQuery = fc.oneof(
  fc.constant(''),
  fc.integer({ min: -5, max: 200 }).map((n) => `?limit=${n}`),
  fc.constantFrom(...LIMITS).map((limit) => `?limit=${percentEncode(limit)}`),
  fc.constant('?limit=1&limit=2'),
);
const historyQuery = fc.oneof(
  fc.constant(''),
  fc.integer({ min: -5, max: 1_200 }).map((n) => `?history=${n}`),
  fc.constantFrom(...LIMITS).map((limit) => `?history=${percentEncode(limit)}`),
  fc.constant('?history=1&history=2'),
);
const reasonQuery = fc.oneof(
  fc.constant(''),
  reasonArb.map((reason) => `?reason=${percentEncode(reason)}`),
  fc.constantFrom('?reason=a&reason=b', '?reason[]=x', '?reason[a]=1', '?reason=%', '?reason'),
);

const getWith = (app: AppName, label: string, admin: boolean, path: fc.Arbitrary<string>, method = 'GET') =>
  fc
    .record({ path, auth: authArb(admin), extra: extraHeadersArb })
    .map(({ path: target, auth, extra }) => assemble({ app, method, path: target, label }, { auth, extra }));

const byPath = (routes: Route[], path: string) => routes.find((route) => route.path === path) as Route;

const ALL_CATEGORIES: Category[] = [
  { name: 'gateway-any-route', weight: 14, arbitrary: anyRoute(GATEWAY_ROUTES) },
  {
    name: 'gateway-sentiment',
    weight: 12,
    arbitrary: routeBodies(byPath(GATEWAY_ROUTES, '/v1/sentiment'), WAIT_QUERIES),
  },
  {
    name: 'gateway-batch',
    weight: 7,
    arbitrary: routeBodies(byPath(GATEWAY_ROUTES, '/v1/sentiment/batch'), WAIT_QUERIES),
  },
  {
    name: 'gateway-feedback-examples',
    weight: 10,
    arbitrary: fc.oneof(
      ...['/v1/feedback', '/v1/feedback/batch', '/v1/examples', '/v1/examples/batch'].map((path) =>
        routeBodies(byPath(GATEWAY_ROUTES, path)),
      ),
    ),
  },
  {
    name: 'gateway-admin',
    weight: 7,
    arbitrary: fc.oneof(
      ...['/v1/admin/models/promote', '/v1/admin/models/rollback', '/v1/admin/models/candidate'].map((path) =>
        routeBodies(byPath(GATEWAY_ROUTES, path)),
      ),
      getWith('gateway', 'GET /v1/admin/models', true, fc.constant('/v1/admin/models')),
      getWith(
        'gateway',
        'GET /v1/admin/models/assignment',
        true,
        historyQuery.map((q) => `/v1/admin/models/assignment${q}`),
      ),
      getWith(
        'gateway',
        'DELETE /v1/admin/models/candidate',
        true,
        reasonQuery.map((q) => `/v1/admin/models/candidate${q}`),
        'DELETE',
      ),
    ),
  },
  {
    name: 'gateway-jobs',
    weight: 5,
    arbitrary: getWith(
      'gateway',
      'GET /v1/jobs/:id',
      false,
      JOB_ID_SEGMENTS.map((id) => `/v1/jobs/${id}`),
    ),
  },
  {
    name: 'gateway-garbage-bodies',
    weight: 12,
    arbitrary: garbageBodies(GATEWAY_ROUTES, [5_300_000, 6_500_000]),
  },
  { name: 'gateway-random-paths', weight: 9, arbitrary: randomPaths('gateway') },
  { name: 'gateway-garbage-headers', weight: 6, arbitrary: garbageHeaders(GATEWAY_ROUTES) },
  {
    name: 'gateway-deep-nesting',
    weight: 2,
    arbitrary: deepNesting('gateway', [
      ['/v1/sentiment', '$'],
      ['/v1/sentiment', '{"text":$}'],
      ['/v1/sentiment', '{"text":"ok","id":$}'],
      ['/v1/sentiment', '{"text":"ok","unknown":$}'],
      ['/v1/sentiment/batch', '{"items":$}'],
      ['/v1/sentiment/batch', '{"items":[$]}'],
      ['/v1/sentiment/batch', '{"items":[{"text":$}]}'],
      ['/v1/feedback', '{"id":"fz-1","label":$}'],
      ['/v1/feedback/batch', '{"items":[{"id":"fz-1","label":$}]}'],
      ['/v1/examples', '{"text":"ok","label":$}'],
      ['/v1/examples/batch', '{"items":[{"text":"ok","label":$}]}'],
      ['/v1/admin/models/promote', '{"version":$,"reason":"r"}', true],
      ['/v1/admin/models/candidate', '{"version":"v","mode":"shadow","share":$,"reason":"r"}', true],
      ['/v1/admin/models/rollback', '{"reason":$}', true],
    ]),
  },
  {
    name: 'gateway-many-items',
    weight: 0.4,
    arbitrary: manyItems(
      'gateway',
      ['/v1/sentiment/batch', '/v1/feedback/batch', '/v1/examples/batch', '/v1/sentiment'],
      [10_000, 400_000],
    ),
  },
  { name: 'drift-any-route', weight: 6, arbitrary: anyRoute(DRIFT_ROUTES) },
  { name: 'drift-runs', weight: 4, arbitrary: routeBodies(byPath(DRIFT_ROUTES, '/v1/runs')) },
  {
    name: 'drift-reports',
    weight: 4,
    arbitrary: fc.oneof(
      getWith(
        'drift',
        'GET /v1/reports',
        false,
        limitQuery.map((q) => `/v1/reports${q}`),
      ),
      getWith(
        'drift',
        'GET /v1/reports/:id',
        false,
        REPORT_ID_SEGMENTS.map((id) => `/v1/reports/${id}`),
      ),
    ),
  },
  {
    name: 'drift-garbage',
    weight: 6,
    arbitrary: fc.oneof(
      garbageBodies(DRIFT_ROUTES, [16_400, 200_000]),
      randomPaths('drift'),
      garbageHeaders(DRIFT_ROUTES),
      deepNesting('drift', [
        ['/v1/runs', '$', true],
        ['/v1/runs', '{"windowEnd":$}', true],
        ['/v1/runs', '{"retrain":$}', true],
        ['/v1/runs', '{"x":$}', true],
      ]),
      manyItems('drift', ['/v1/runs'], [1_000, 10_000], true),
    ),
  },
];

const CATEGORIES = ALL_CATEGORIES.filter((category) => !ONLY || ONLY.includes(category.name));
const WEIGHT_SUM = CATEGORIES.reduce((sum, category) => sum + category.weight, 0);
const runsOf = (category: Category) => Math.max(5, Math.round((TOTAL_RUNS * category.weight) / WEIGHT_SUM));

// ---------------------------------------------------------------------------------------------------------------
// Sending, checking, recording
// ---------------------------------------------------------------------------------------------------------------

/** Light requests share an app; a heavy one waits for them and runs alone (FIFO, so neither side starves). */
class SharedExclusiveLock {
  private readers = 0;
  private writer = false;
  private readonly waiting: Array<{ exclusive: boolean; go: () => void }> = [];

  async run<T>(exclusive: boolean, action: () => Promise<T>): Promise<T> {
    await new Promise<void>((go) => {
      this.waiting.push({ exclusive, go });
      this.drain();
    });
    try {
      return await action();
    } finally {
      if (exclusive) this.writer = false;
      else this.readers--;
      this.drain();
    }
  }

  private drain(): void {
    while (this.waiting.length > 0) {
      const next = this.waiting[0];
      if (this.writer || (next.exclusive && this.readers > 0)) return;
      this.waiting.shift();
      if (next.exclusive) this.writer = true;
      else this.readers++;
      next.go();
      if (next.exclusive) return;
    }
  }
}

interface Violation {
  category: string;
  route: string;
  problem: string;
  count: number;
  example: string;
}

const stats = {
  started: 0,
  sent: { gateway: 0, drift: 0 } as Record<AppName, number>,
  histogram: { gateway: {}, drift: {} } as Record<AppName, Record<string, number>>,
  byRoute: new Map<string, Record<string, number>>(),
  latencies: { gateway: [], drift: [] } as Record<AppName, number[]>,
  slowest: [] as Array<{ ms: number; what: string }>,
  violations: new Map<string, Violation>(),
  runs: new Map<string, number>(),
  failures: new Map<string, string>(),
};

const apps = {} as Record<AppName | 'worker', AppProcess>;
const locks: Record<AppName, SharedExclusiveLock> = {
  gateway: new SharedExclusiveLock(),
  drift: new SharedExclusiveLock(),
};
const portOf = (app: AppProcess) => Number(new URL(app.url).port);

async function send(request: FuzzRequest): Promise<RawResponse> {
  return locks[request.app].run(request.heavy, async () => {
    const response = await rawRequest(portOf(apps[request.app]), request, TIME_LIMIT_MS);
    // A request that timed out may still be running: let the app recover before the next one is timed.
    if (response.kind !== 'response') await recover(request.app);
    return response;
  });
}

async function recover(app: AppName): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && apps[app].child.exitCode === null) {
    const probe = await rawRequest(
      portOf(apps[app]),
      { method: 'GET', path: '/health/live', headers: [] },
      1_000,
    );
    if (probe.kind === 'response' && probe.status === 200 && probe.ms < 200) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

type Exemption = 'node' | 'third-party' | undefined;

/** Answers not written by the apps' own code (see the header comment). */
function exemption(request: FuzzRequest, response: Extract<RawResponse, { kind: 'response' }>): Exemption {
  const noContent = response.headers['content-type'] === undefined && response.body.length === 0;
  if (noContent && response.headers.date === undefined) return 'node';
  if (noContent && response.status === 417) return 'node';
  if (/^\/(admin\/queues|docs)(\/|\?|$)/i.test(request.path)) return 'third-party';
  return undefined;
}

function statusLabel(request: FuzzRequest, response: RawResponse): string {
  if (response.kind !== 'response') return response.kind;
  return exemption(request, response) === 'node' ? `${response.status}(node)` : String(response.status);
}

/** What is wrong with this answer (nothing: an empty list). */
function check(request: FuzzRequest, response: RawResponse): string[] {
  if (response.kind !== 'response') return [`${response.kind}: ${response.message}`];
  const problems: string[] = [];
  if (response.status >= 500) problems.push(`status ${response.status}`);
  if (response.status >= 400 && !exemption(request, response)) {
    const type = response.headers['content-type'] ?? '(none)';
    if (!/^application\/problem\+json/i.test(type))
      problems.push(`${response.status} with content-type ${type}`);
    else if (request.method !== 'HEAD') {
      let body: { status?: unknown; code?: unknown } | undefined;
      try {
        body = JSON.parse(response.body.toString('utf8'));
      } catch {
        problems.push(`${response.status} problem body is not JSON`);
      }
      if (body && (body.status !== response.status || typeof body.code !== 'string'))
        problems.push(`${response.status} problem body lacks a matching status and a code`);
    }
  }
  return problems;
}

function describeResponse(response: RawResponse): string {
  if (response.kind !== 'response') return `${response.kind} after ${response.ms} ms: ${response.message}`;
  return (
    `${response.status} in ${response.ms} ms, content-type ${response.headers['content-type'] ?? '(none)'}, ` +
    `body ${preview(response.body, 300)}`
  );
}

function record(category: Category, request: FuzzRequest, response: RawResponse, problems: string[]): void {
  stats.sent[request.app]++;
  if (response.kind === 'response' && /^POST \/v1\/sentiment/.test(request.route) && response.status < 300) {
    try {
      const jobId = (JSON.parse(response.body.toString('utf8')) as { jobId?: unknown }).jobId;
      if (typeof jobId === 'string' && jobIds.length < 500) jobIds.push(jobId);
    } catch {
      // not JSON: the HEAD of a 200, say
    }
  }
  const label = statusLabel(request, response);
  const histogram = stats.histogram[request.app];
  histogram[label] = (histogram[label] ?? 0) + 1;
  const routeKey = `${request.app} ${request.route}`;
  const byRoute = stats.byRoute.get(routeKey) ?? {};
  byRoute[label] = (byRoute[label] ?? 0) + 1;
  stats.byRoute.set(routeKey, byRoute);
  stats.latencies[request.app].push(response.ms);
  if (response.ms > 500) {
    stats.slowest.push({ ms: response.ms, what: `${request.route} [${request.recipe}] -> ${label}` });
    stats.slowest.sort((a, b) => b.ms - a.ms).splice(10);
  }
  for (const problem of problems) {
    // One entry per category, route and kind of problem (statuses and time-outs, not their wording).
    const kind = problem.replace(/after \d+ bytes|\d+ ms/g, 'N');
    const key = `${category.name} ${request.route} ${kind}`;
    const seen = stats.violations.get(key);
    if (seen) seen.count++;
    else
      stats.violations.set(key, {
        category: category.name,
        route: request.route,
        problem,
        count: 1,
        example: `${describeRequest(request)}\n    -> ${describeResponse(response)}`,
      });
  }
}

async function fuzzCategory(category: Category): Promise<string | undefined> {
  let firstFailureAt: number | undefined;
  let runs = 0;
  const property = fc.asyncProperty(category.arbitrary, async (request) => {
    // Shrinking budget spent: stop (an interrupting precondition), keeping the smallest counterexample so far.
    if (firstFailureAt !== undefined && Date.now() - firstFailureAt > SHRINK_BUDGET_MS)
      throw new fc.PreconditionFailure(true);
    if (firstFailureAt === undefined) runs++;
    const response = await send(request);
    const problems = check(request, response);
    record(category, request, response, problems);
    if (problems.length === 0 || SURVEY) return true;
    firstFailureAt ??= Date.now();
    throw new Error(`${problems.join('; ')}\n  answer: ${describeResponse(response)}`);
  });
  try {
    await fc.assert(property, {
      seed: SEED,
      numRuns: runsOf(category),
      includeErrorInReport: true,
      ...(REPLAY_PATH && { path: REPLAY_PATH }),
    });
    return undefined;
  } catch (error) {
    const message = (error as Error).message;
    const path = message.match(/path: "([^"]*)"/)?.[1];
    return (
      `${category.name}: ${message}\n\nReplay: FUZZ_SEED=${SEED} FUZZ_ONLY=${category.name}` +
      `${path ? ` FUZZ_PATH=${path}` : ''} npx nx run e2e:e2e http-fuzz`
    );
  } finally {
    stats.runs.set(category.name, runs);
  }
}

/** Runs every category, FUZZ_CONCURRENCY at a time; each settles its own promise (never rejects). */
function fuzzAll(): Map<string, Promise<string | undefined>> {
  const results = new Map<string, Promise<string | undefined>>();
  const settle = new Map<string, (failure: string | undefined) => void>();
  for (const category of CATEGORIES)
    results.set(category.name, new Promise((resolve) => settle.set(category.name, resolve)));
  // Heavy categories first, so they overlap with light ones instead of each other at the end.
  const queue = [...CATEGORIES].sort(
    (a, b) => Number(/nesting|items/.test(b.name)) - Number(/nesting|items/.test(a.name)),
  );
  const lane = async () => {
    for (let category = queue.shift(); category; category = queue.shift()) {
      const failure = await fuzzCategory(category).catch(
        (error: Error) => `${category?.name}: ${error.stack}`,
      );
      if (failure) stats.failures.set(category.name, failure);
      settle.get(category.name)?.(failure);
    }
  };
  for (let i = 0; i < CONCURRENCY; i++) void lane();
  return results;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : 0;
}

function summary(): string {
  const seconds = ((Date.now() - stats.started) / 1000).toFixed(1);
  const fiveXX = (['gateway', 'drift'] as AppName[]).reduce(
    (sum, app) =>
      sum +
      Object.entries(stats.histogram[app])
        .filter(([status]) => /^5/.test(status))
        .reduce((s, [, n]) => s + n, 0),
    0,
  );
  const lines = [
    `HTTP fuzz summary: seed ${SEED}, ${stats.sent.gateway + stats.sent.drift} requests in ${seconds} s ` +
      `(gateway ${stats.sent.gateway}, drift monitor ${stats.sent.drift}), 5xx: ${fiveXX}, ` +
      `time limit ${TIME_LIMIT_MS} ms${SURVEY ? ', survey mode' : ''}`,
  ];
  for (const app of ['gateway', 'drift'] as AppName[]) {
    const histogram = Object.entries(stats.histogram[app])
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([status, n]) => `${status}: ${n}`)
      .join(', ');
    const latencies = stats.latencies[app];
    lines.push(
      `  ${app}: ${histogram}`,
      `    latency p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms, max ${Math.max(0, ...latencies)} ms`,
    );
  }
  lines.push('  by route:');
  for (const [route, counts] of [...stats.byRoute].sort(([a], [b]) => a.localeCompare(b)))
    lines.push(
      `    ${route}: ${Object.entries(counts)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([status, n]) => `${status}×${n}`)
        .join(' ')}`,
    );
  lines.push(
    `  runs per category: ${CATEGORIES.map((category) => `${category.name} ${stats.runs.get(category.name) ?? 0}/${runsOf(category)}`).join(', ')}`,
  );
  if (stats.slowest.length)
    lines.push('  slowest:', ...stats.slowest.map(({ ms, what }) => `    ${ms} ms ${what}`));
  if (stats.violations.size) {
    lines.push(`  distinct violations (${stats.violations.size}):`);
    for (const violation of stats.violations.values())
      lines.push(
        `  - [${violation.category}] ${violation.route}: ${violation.problem} (×${violation.count})`,
        `    ${violation.example}`,
      );
  } else lines.push('  no violations');
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------------------------

let redis: Redis;
let tmp: string;
let fuzzing: Map<string, Promise<string | undefined>>;

async function post(app: AppName, path: string, body: unknown, admin = false) {
  const response = await rawRequest(
    portOf(apps[app]),
    {
      method: 'POST',
      path,
      headers: [...goodAuth(admin), ['content-type', 'application/json']],
      body: Buffer.from(JSON.stringify(body)),
    },
    60_000,
  );
  if (response.kind !== 'response' || response.status >= 300)
    throw new Error(`setup POST ${path}: ${describeResponse(response)}`);
  return JSON.parse(response.body.toString('utf8'));
}

beforeAll(async () => {
  console.log(
    `HTTP fuzz: seed ${SEED} (FUZZ_SEED to replay), ${TOTAL_RUNS} runs (FUZZ_RUNS), ` +
      `categories: ${CATEGORIES.map((category) => `${category.name} ${runsOf(category)}`).join(', ')}`,
  );
  redis = connectRedis();
  tmp = mkdtempSync(join(tmpdir(), 'http-fuzz-'));
  const registry = join(tmp, 'registry');
  mkdirSync(registry);
  const golden = writeGoldenSet(join(tmp, 'golden.jsonl'), {
    sharedData: SHARED_DATA,
    split: 'val',
    count: 20,
  });
  apps.worker = await startWorker({ QUEUE_PREFIX: prefix });
  [apps.gateway, apps.drift] = await Promise.all([
    startGateway({
      QUEUE_PREFIX: prefix,
      API_KEYS: `fuzz:${CLIENT_KEY}`,
      ADMIN_API_KEYS: ADMIN_KEY,
      // The limiter runs (its guard and Redis counter are fuzzed too) but never refuses: 429s would hide the rest.
      RATE_LIMIT_PER_MINUTE: '1000000',
      // Below the request time limit, so a busy worker means a 202, not a slow answer.
      SYNC_TIMEOUT_MS: '2000',
      MODEL_REGISTRY: registry,
    }),
    startDriftMonitor({
      QUEUE_PREFIX: prefix,
      API_KEYS: CLIENT_KEY,
      ADMIN_API_KEYS: ADMIN_KEY,
      GOLDEN_SET_PATH: golden,
      GOLDEN_TIMEOUT_MS: '3000',
      GOLDEN_CHUNK_SIZE: '10',
      SCHEDULE: '0 0 1 1 *',
      WINDOW_MINUTES: '5',
    }),
  ]);
  // Records for the fuzzed lookups to find: predictions under the fixed client ids, and a drift report.
  await Promise.all(CLIENT_IDS.map((id, i) => post('gateway', '/v1/sentiment', { text: TWEETS[i], id })));
  reportIds.push((await post('drift', '/v1/runs', {}, true)).id);
  for (const text of TWEETS.slice(0, 3))
    jobIds.push((await post('gateway', '/v1/sentiment?wait=false', { text })).jobId);
  stats.started = Date.now();
  fuzzing = fuzzAll();
}, 300_000);

afterAll(async () => {
  if (fuzzing) await Promise.all(fuzzing.values());
  if (stats.started) console.log(summary());
  const logDir = process.env.FUZZ_LOG_DIR;
  if (logDir) {
    mkdirSync(logDir, { recursive: true });
    for (const [name, app] of Object.entries(apps)) writeFileSync(join(logDir, `${name}.log`), app.logs());
  }
  await stopAll();
  if (redis) {
    await deletePrefix(redis, prefix);
    redis.disconnect();
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}, 120_000);

describe('every fuzzed request gets a timely answer below 500, and 4xx are problem+json', () => {
  it.each(CATEGORIES.map((category) => [category.name, runsOf(category)] as const))(
    '%s (%i runs)',
    async (name) => {
      const failure = await fuzzing.get(name);
      if (failure) throw new Error(failure);
    },
    900_000,
  );
});

describe('after the fuzzing', () => {
  it('left every process running and live', async () => {
    await Promise.all(fuzzing.values());
    for (const name of ['gateway', 'drift', 'worker'] as const) {
      const { child } = apps[name];
      expect({ name, exitCode: child.exitCode, signal: child.signalCode }).toEqual({
        name,
        exitCode: null,
        signal: null,
      });
      const live = await rawRequest(
        portOf(apps[name]),
        { method: 'GET', path: '/health/live', headers: [] },
        TIME_LIMIT_MS,
      );
      expect({ name, status: live.kind === 'response' ? live.status : live.kind }).toEqual({
        name,
        status: 200,
      });
    }
  });

  it('left validation unchanged by the prototype keys it sent', async () => {
    const probe = async (app: AppName, path: string, body: string, admin = false) => {
      const response = await rawRequest(
        portOf(apps[app]),
        {
          method: 'POST',
          path,
          headers: [...goodAuth(admin), ['content-type', 'application/json']],
          body: Buffer.from(body),
        },
        TIME_LIMIT_MS,
      );
      if (response.kind !== 'response') throw new Error(describeResponse(response));
      return { status: response.status, body: JSON.parse(response.body.toString('utf8')) };
    };
    // A polluted Object.prototype.text would let an empty body through, or a stray field pass as known.
    const empty = await probe('gateway', '/v1/sentiment', '{}');
    expect(empty.status).toBe(422);
    expect(empty.body.errors.map((error: { field: string }) => error.field)).toContain('text');
    const stray = await probe('gateway', '/v1/sentiment', '{"text":"ok","polluted":"yes","isAdmin":true}');
    expect(stray.status).toBe(422);
    const run = await probe('drift', '/v1/runs', '{"polluted":"yes"}', true);
    expect(run.status).toBe(422);
  });
});
