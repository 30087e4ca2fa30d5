import { LabelledExample, checkExample, decodeExample, encodeExample, materializeExamples } from './examples';

const base: LabelledExample = {
  id: 'a'.repeat(32),
  text: 'The update broke my phone',
  label: 'negative',
  source: 'twitter',
  origin: 'feedback',
  at: 1_764_000_000_000,
  predictionId: 'tweet-7',
  predicted: 'neutral',
  modelVersion: 'fp32-abc',
};

describe('labelled example codec', () => {
  it('round-trips, with and without the feedback fields, in a fixed key order', () => {
    expect(decodeExample(encodeExample(base))).toEqual({ ok: true, example: base });
    const imported: LabelledExample = {
      ...base,
      origin: 'import',
      predictionId: undefined,
      predicted: undefined,
      modelVersion: undefined,
    };
    const line = encodeExample(imported);
    expect(line).toBe(
      `{"id":"${'a'.repeat(32)}","text":"The update broke my phone","label":"negative","source":"twitter","origin":"import","at":1764000000000}`,
    );
    expect(decodeExample(line)).toEqual({
      ok: true,
      example: {
        id: base.id,
        text: base.text,
        label: 'negative',
        source: 'twitter',
        origin: 'import',
        at: base.at,
      },
    });
  });

  it('carries the labelling tenant, last, and only when there is one', () => {
    const tenanted: LabelledExample = { ...base, tenant: 'acme' };
    const line = encodeExample(tenanted);
    expect(line.endsWith(',"tenant":"acme"}')).toBe(true);
    expect(decodeExample(line)).toEqual({ ok: true, example: tenanted });
    expect(encodeExample(base)).not.toContain('tenant');
  });

  it.each([
    ['{', /not JSON/],
    [JSON.stringify({ ...base, tenant: 'Acme Corp' }), /^tenant /],
    ['[]', /not an object/],
    [JSON.stringify({ ...base, id: 'x' }), /^id /],
    [JSON.stringify({ ...base, text: '  ' }), /^text /],
    [JSON.stringify({ ...base, label: 'Negative' }), /^label .*"Negative"/],
    [JSON.stringify({ ...base, label: 0 }), /^label /],
    [JSON.stringify({ ...base, source: 's'.repeat(65) }), /^source /],
    [JSON.stringify({ ...base, origin: 'scraped' }), /^origin /],
    [JSON.stringify({ ...base, at: -1 }), /^at /],
    [JSON.stringify({ ...base, predicted: 'meh' }), /^predicted /],
  ])('names what is wrong in %s', (line, reason) => {
    const check = decodeExample(line);
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.reason).toMatch(reason);
  });

  it('checks parsed values too', () => {
    expect(checkExample(null).ok).toBe(false);
  });
});

describe('materializeExamples', () => {
  const record = (id: string, label: LabelledExample['label'], at: number): LabelledExample => ({
    ...base,
    id: id.repeat(32),
    label,
    at,
  });

  it('keeps one example per text: repeats are duplicates, another label is a conflict won by the latest', () => {
    const result = materializeExamples([
      record('a', 'negative', 1),
      record('b', 'positive', 2),
      record('a', 'negative', 3),
      record('b', 'neutral', 4),
      record('c', 'neutral', 5),
    ]);
    expect(result.duplicates).toBe(1);
    expect(result.conflicts).toBe(1);
    expect(result.examples.map((e) => [e.id[0], e.label, e.at])).toEqual([
      ['a', 'negative', 3],
      ['b', 'neutral', 4],
      ['c', 'neutral', 5],
    ]);
  });

  it('lets the later label win even when records arrive out of time order', () => {
    const result = materializeExamples([record('a', 'positive', 10), record('a', 'negative', 5)]);
    expect(result.conflicts).toBe(1);
    expect(result.examples).toEqual([record('a', 'positive', 10)]);
  });
});
