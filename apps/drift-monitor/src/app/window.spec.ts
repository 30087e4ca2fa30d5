import { streamRange } from '@reputation-monitor/prediction-store';
import { StreamEntry, chooseModelVersion, readWindow, windowBounds } from './window';

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

describe('readWindow with a job run twice', () => {
  it('counts a repeated prediction (same id, version and role) once, and says how many repeats it left out', () => {
    const contents = readWindow(
      [
        entry(1, { id: 'job-1-0' }),
        entry(2, { id: 'job-1-1', label: 'negative' }),
        entry(3, { id: 'job-1-1', version: 'cand', role: 'shadow' }),
        // The job again, from the worker that took it over after its lock lapsed.
        entry(9, { id: 'job-1-0' }),
        entry(10, { id: 'job-1-1', label: 'negative' }),
        entry(11, { id: 'job-1-1', version: 'cand', role: 'shadow' }),
        // The same id answered by another version (a rollout between the two runs) is another prediction.
        entry(12, { id: 'job-1-0', version: 'fp32-new' }),
      ],
      'drift-golden',
    );
    expect(contents).toMatchObject({
      entries: 7,
      duplicates: 3,
      shadow: 1,
      byVersion: { 'fp32-abc': 2, 'fp32-new': 1 },
    });
    expect(contents.predictions.map((p) => [p.id, p.streamAt])).toEqual([
      ['job-1-0', 1],
      ['job-1-1', 2],
      ['job-1-0', 12],
    ]);
  });
});

describe('readWindow with a candidate', () => {
  it('counts shadow predictions apart from the traffic; canary predictions are traffic; golden stays golden', () => {
    const contents = readWindow(
      [
        entry(1, { id: 'a' }),
        entry(2, { id: 'a', version: 'cand', role: 'shadow' }),
        entry(3, { id: 'b', version: 'cand', role: 'canary' }),
        entry(4, { id: 'b', role: 'shadow' }),
        entry(5, { source: 'drift-golden', role: 'shadow' }),
        entry(6, { role: 'understudy' }),
      ],
      'drift-golden',
    );
    expect(contents).toMatchObject({
      entries: 6,
      golden: 1,
      malformed: 1,
      shadow: 2,
      byVersion: { 'fp32-abc': 1, cand: 1 },
      newestVersion: 'cand',
    });
    expect(contents.predictions.map((p) => [p.id, p.role])).toEqual([
      ['a', 'production'],
      ['b', 'canary'],
    ]);
    expect(contents.shadowPredictions.map((p) => [p.id, p.version])).toEqual([
      ['a', 'cand'],
      ['b', 'fp32-abc'],
    ]);
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
