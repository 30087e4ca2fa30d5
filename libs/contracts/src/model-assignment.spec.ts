import { createHash } from 'node:crypto';
import {
  ModelAssignment,
  WorkerModelStatus,
  decodeAssignment,
  decodeWorkerStatus,
  encodeAssignment,
  encodeWorkerStatus,
  routingPoint,
  shareOk,
} from './model-assignment';

const production = { id: 'a'.repeat(40), location: `hf://models/acme/sentiment@${'a'.repeat(40)}` };
const candidateRef = { id: 'b'.repeat(40), location: `hf://models/acme/sentiment@${'b'.repeat(40)}` };
const base: ModelAssignment = {
  revision: 3,
  production,
  candidate: { version: candidateRef, mode: 'canary', share: 0.1 },
  change: {
    action: 'set-candidate',
    actor: 'key:0123abcd',
    reason: 'canary 10 %',
    at: '2026-03-01T10:00:00.000Z',
  },
};

/** A record with one part replaced, as JSON (to reach the decoder with what the encoder never writes). */
const variant = (patch: Record<string, unknown>) => JSON.stringify({ ...base, ...patch });

describe('model assignment codec', () => {
  it('round-trips with and without a candidate, in a fixed key order', () => {
    expect(decodeAssignment(encodeAssignment(base))).toEqual({ ok: true, assignment: base });
    const plain: ModelAssignment = {
      revision: 1,
      production: { location: production.location, id: production.id },
      change: { at: base.change.at, reason: 'first', actor: 'cli:ops', action: 'initialize' },
    };
    const text = encodeAssignment(plain);
    expect(text).toBe(
      `{"revision":1,"production":{"id":"${production.id}","location":"${production.location}"},` +
        `"change":{"action":"initialize","actor":"cli:ops","reason":"first","at":"${base.change.at}"}}`,
    );
    expect(decodeAssignment(text)).toEqual({ ok: true, assignment: plain });
  });

  it('keeps forced only when set, and drops fields it does not know', () => {
    const forced = { ...base, change: { ...base.change, action: 'promote' as const, forced: true } };
    expect(decodeAssignment(encodeAssignment(forced))).toEqual({ ok: true, assignment: forced });
    const notForced = encodeAssignment({ ...base, change: { ...base.change, forced: false } });
    expect(notForced).not.toContain('forced');
    const extra = {
      ...base,
      production: { ...production, size: 5 },
      note: 'x',
    } as unknown as ModelAssignment;
    expect(JSON.parse(encodeAssignment(extra))).toEqual(JSON.parse(encodeAssignment(base)));
  });

  it.each([
    ['text that is no JSON', '{"revision":', /^not JSON/],
    ['null', 'null', /^not an object$/],
    ['a number', '5', /^not an object$/],
    ['a revision of 0', variant({ revision: 0 }), /^revision must be a positive integer$/],
    ['a fractional revision', variant({ revision: 1.5 }), /^revision must be a positive integer$/],
    ['a revision given as text', variant({ revision: '3' }), /^revision must be a positive integer$/],
    ['no production', variant({ production: undefined }), /^production must have an id$/],
    [
      'a production without id',
      variant({ production: { id: '', location: 'x' } }),
      /^production must have an id$/,
    ],
    [
      'a production without location',
      variant({ production: { id: 'x' } }),
      /^production must have a location$/,
    ],
    [
      'a candidate without version',
      variant({ candidate: { mode: 'canary', share: 0.1 } }),
      /^candidate\.version must have an id$/,
    ],
    [
      'a candidate version without location',
      variant({ candidate: { version: { id: 'x', location: '' }, mode: 'canary', share: 0.1 } }),
      /^candidate\.version must have a location$/,
    ],
    [
      'an unknown candidate mode',
      variant({ candidate: { version: candidateRef, mode: 'blue-green', share: 0.1 } }),
      /^candidate\.mode must be shadow or canary$/,
    ],
    [
      'a candidate share of 0',
      variant({ candidate: { version: candidateRef, mode: 'shadow', share: 0 } }),
      /^candidate\.share must be in \(0, 1\]$/,
    ],
    [
      'a candidate share above 1',
      variant({ candidate: { version: candidateRef, mode: 'shadow', share: 1.01 } }),
      /^candidate\.share must be in \(0, 1\]$/,
    ],
    [
      'a candidate share given as text',
      variant({ candidate: { version: candidateRef, mode: 'shadow', share: '0.5' } }),
      /^candidate\.share must be in \(0, 1\]$/,
    ],
    ['no change', variant({ change: undefined }), /^change must name its action, actor and time$/],
    [
      'a change without actor',
      variant({ change: { action: 'promote', reason: 'x', at: base.change.at } }),
      /^change must name its action, actor and time$/,
    ],
    [
      'a change without time',
      variant({ change: { action: 'promote', actor: 'cli:ops', reason: 'x' } }),
      /^change must name its action, actor and time$/,
    ],
  ])('refuses %s', (_, text, reason) => {
    const check = decodeAssignment(text);

    expect(check.ok).toBe(false);
    expect(check.ok ? '' : check.reason).toMatch(reason);
  });

  it('accepts shares in (0, 1] only', () => {
    expect([1e-9, 0.1, 1].every(shareOk)).toBe(true);
    expect(
      [0, -0.1, 1.0001, Number.NaN, Number.POSITIVE_INFINITY, '0.5', null, undefined].some(shareOk),
    ).toBe(false);
  });
});

describe('worker model status codec', () => {
  const status: WorkerModelStatus = {
    workerId: 'worker-1',
    revision: 4,
    state: 'serving',
    serving: [
      { id: production.id, modelVersion: 'fp32-0123456789ab', role: 'production' },
      { id: candidateRef.id, modelVersion: 'fp32-ba9876543210', role: 'candidate' },
    ],
    switchedAt: '2026-03-01T10:00:02.500Z',
    at: '2026-03-01T10:00:05.000Z',
  };

  it('round-trips a status', () => {
    expect(decodeWorkerStatus(encodeWorkerStatus(status))).toEqual(status);
  });

  it.each([
    ['text that is no JSON', '{'],
    ['null', 'null'],
    ['no worker id', JSON.stringify({ ...status, workerId: 7 })],
    ['a fractional revision', JSON.stringify({ ...status, revision: 1.5 })],
    ['no serving list', JSON.stringify({ ...status, serving: 'all' })],
  ])('refuses %s', (_, text) => {
    expect(decodeWorkerStatus(text)).toBeUndefined();
  });
});

describe('routingPoint', () => {
  /** Job ids as the producer makes them without a client id (UUIDs) and for batches (`b-` + digest). */
  const uuid = (i: number) => {
    const hex = createHash('sha256').update(`job ${i}`).digest('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  };
  const batch = (i: number) => `b-${createHash('sha256').update(`batch ${i}`).digest('hex').slice(0, 32)}`;
  const sharesRouted = (ids: string[], share: number) =>
    ids.filter((id) => routingPoint(id) < share).length / ids.length;

  it('is deterministic and in [0, 1)', () => {
    const ids = ['', 'a', 't-tweet-1', uuid(1), batch(1), 'x'.repeat(1_000), 'ünïcödé 🙂'];
    for (const id of ids) {
      const point = routingPoint(id);
      expect(point).toBeGreaterThanOrEqual(0);
      expect(point).toBeLessThan(1);
      expect(routingPoint(id)).toBe(point);
    }
    expect(routingPoint('t-tweet-1')).not.toBe(routingPoint('t-tweet-2'));
  });

  it.each([
    ['UUIDs', uuid],
    ['batch digests', batch],
  ])('routes a share of 0.1 of 10,000 %s to 10 % ± 1.5 %, and other shares alike', (_, makeId) => {
    const ids = Array.from({ length: 10_000 }, (__, i) => makeId(i));

    expect(Math.abs(sharesRouted(ids, 0.1) - 0.1)).toBeLessThanOrEqual(0.015);
    for (const share of [0.01, 0.05, 0.25, 0.5, 0.9]) {
      expect(Math.abs(sharesRouted(ids, share) - share)).toBeLessThanOrEqual(0.015);
    }
    // Every tenth of [0, 1) gets its tenth.
    const tenths = Array.from({ length: 10 }, () => 0);
    for (const id of ids) tenths[Math.floor(routingPoint(id) * 10)]++;
    expect(Math.min(...tenths)).toBeGreaterThanOrEqual(850);
    expect(Math.max(...tenths)).toBeLessThanOrEqual(1_150);
  });

  // KNOWN DEFECT, kept visible: FNV-1a without a final mixing step spreads ids that differ only in their
  // last characters poorly. Single-text jobs with a client id are `t-<client id>`, and sequential client ids
  // (`t-tweet-0` … `t-tweet-9999`) send 12.4 % of jobs to a 0.1 canary. A murmur3 finalizer
  // (h ^= h >>> 16; h = imul(h, 0x85ebca6b); h ^= h >>> 13; h = imul(h, 0xc2b2ae35); h ^= h >>> 16) brings
  // it to 10.1 %. When routingPoint is fixed, this test fails: turn `it.failing` into `it`.

  // Client ids are often sequential (t-tweet-0, t-tweet-1, ...): they must spread as well as random ones.
  it('routes a share of 0.1 of 10,000 sequential client ids to 10 % ± 1.5 %', () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => `t-tweet-${i}`);

    expect(Math.abs(sharesRouted(ids, 0.1) - 0.1)).toBeLessThanOrEqual(0.015);
  });
});
