import { StreamEntry, parseStreamEntry, predictionStreamFields } from './prediction-stream';

/** A stream entry exactly as the inference worker writes it (predictionStreamFields). */
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
      role: 'production',
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

describe('predictionStreamFields', () => {
  it('writes what parseStreamEntry reads back, role included', () => {
    const fields = predictionStreamFields(
      {
        id: 'tweet-1',
        label: 'negative',
        scores: { negative: 0.8, neutral: 0.15, positive: 0.05 },
        tokens: 9,
        truncated: true,
      },
      { name: 'm', version: 'v2' },
      'x',
      1_700_000_000_123,
      'shadow',
    ).map(String);
    expect(parseStreamEntry(['1700000000123-0', fields])).toEqual({
      streamAt: 1_700_000_000_123,
      id: 'tweet-1',
      label: 'negative',
      scores: { negative: 0.8, neutral: 0.15, positive: 0.05 },
      tokens: 9,
      truncated: true,
      model: 'm',
      version: 'v2',
      source: 'x',
      role: 'shadow',
    });
  });

  it('carries the request id when there is one, and leaves it out otherwise', () => {
    const prediction = {
      id: 'p',
      label: 'neutral' as const,
      scores: { negative: 0.1, neutral: 0.8, positive: 0.1 },
      tokens: 3,
      truncated: false,
    };
    const model = { name: 'm', version: 'v' };
    const withId = predictionStreamFields(prediction, model, '', 1, 'production', 'req-42').map(String);
    expect(parseStreamEntry(['1-0', withId])?.requestId).toBe('req-42');
    const without = predictionStreamFields(prediction, model, '', 1).map(String);
    expect(without).not.toContain('request');
    expect(parseStreamEntry(['1-0', without])).not.toHaveProperty('requestId');
  });

  it('reads entries without a role (written before roles existed) as production, and refuses unknown roles', () => {
    expect(parseStreamEntry(entry(7))?.role).toBe('production');
    expect(parseStreamEntry(entry(7, { role: 'champion' }))).toBeUndefined();
  });
});
