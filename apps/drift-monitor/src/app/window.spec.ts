import {
  StreamEntry,
  chooseModelVersion,
  parseStreamEntry,
  readWindow,
  streamRange,
  windowBounds,
} from './window';

/** A stream entry exactly as the inference worker writes it (prediction-stream.ts). */
function entry(at: number, overrides: Record<string, string | number> = {}, seq = 0): StreamEntry {
  const fields: Record<string, string | number> = {
    id: `p-${at}`,
    label: 'positive',
    negative: '0.100000',
    neutral: '0.200000',
    positive: '0.700000',
    tokens: 14,
    truncated: 0,
    model: 'synthetic-tiny',
    version: 'fp32-abc',
    source: 'twitter',
    at,
    ...overrides,
  };
  return [`${at}-${seq}`, Object.entries(fields).flatMap(([key, value]) => [key, String(value)])];
}

describe('window bounds', () => {
  it('ends at the given time and reaches back WINDOW_MINUTES', () => {
    const end = Date.parse('2025-01-02T03:00:00Z');
    expect(windowBounds(end, 60)).toEqual({ start: Date.parse('2025-01-02T02:00:00Z'), end });
  });

  it('reads [start, end) from the stream: ms-only ids, the end exclusive', () => {
    expect(streamRange({ start: 1000, end: 2000 })).toEqual({ from: '1000', to: '1999' });
  });
});

describe('parseStreamEntry', () => {
  it("reads the worker's fields", () => {
    expect(parseStreamEntry(entry(1_700_000_000_000))).toEqual({
      streamAt: 1_700_000_000_000,
      id: 'p-1700000000000',
      label: 'positive',
      scores: { negative: 0.1, neutral: 0.2, positive: 0.7 },
      tokens: 14,
      truncated: false,
      model: 'synthetic-tiny',
      version: 'fp32-abc',
      source: 'twitter',
    });
    expect(parseStreamEntry(entry(5, { truncated: 1, source: '' }))).toMatchObject({
      truncated: true,
      source: '',
    });
  });

  it.each([
    ['an unknown label', { label: 'angry' }],
    ['a missing score', { neutral: '' }],
    ['a negative score', { negative: '-0.1' }],
    ['all-zero scores', { negative: '0', neutral: '0', positive: '0' }],
    ['fractional tokens', { tokens: '1.5' }],
    ['a truncated flag other than 0/1', { truncated: 'yes' }],
    ['no version', { version: '' }],
  ])('refuses an entry with %s', (_, overrides) => {
    expect(parseStreamEntry(entry(1, overrides))).toBeUndefined();
  });
});

describe('readWindow', () => {
  it('keeps traffic by version and leaves out golden-set and malformed entries', () => {
    const contents = readWindow(
      [
        entry(1),
        entry(2, { version: 'fp32-new' }),
        entry(3, { source: 'drift-golden' }),
        entry(4, { label: '' }),
        entry(5),
      ],
      'drift-golden',
    );
    expect(contents).toMatchObject({
      entries: 5,
      golden: 1,
      malformed: 1,
      byVersion: { 'fp32-abc': 2, 'fp32-new': 1 },
      modelNames: { 'fp32-abc': 'synthetic-tiny' },
      newestVersion: 'fp32-abc',
    });
    expect(contents.predictions.map((p) => p.streamAt)).toEqual([1, 2, 5]);
  });
});

describe('chooseModelVersion', () => {
  it('takes the version with most traffic', () => {
    expect(chooseModelVersion({ byVersion: { a: 10, b: 30 }, newestVersion: 'a' }, 'c')).toBe('b');
  });

  it('breaks a tie with the newest prediction (a rollout in progress)', () => {
    expect(chooseModelVersion({ byVersion: { a: 20, b: 20 }, newestVersion: 'b' }, undefined)).toBe('b');
    expect(chooseModelVersion({ byVersion: { b: 20, a: 20 }, newestVersion: 'a' }, undefined)).toBe('a');
  });

  it("falls back to the golden set's version when there is no traffic, else nothing", () => {
    expect(chooseModelVersion({ byVersion: {}, newestVersion: undefined }, 'g')).toBe('g');
    expect(chooseModelVersion({ byVersion: {}, newestVersion: undefined }, undefined)).toBeUndefined();
  });
});
