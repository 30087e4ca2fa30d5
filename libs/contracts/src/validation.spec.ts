import { checkClassifyPayload, clientIdProblem, sourceProblem, textProblem } from './validation';

describe('text rules', () => {
  it('rejects non-strings, blank and over-long texts', () => {
    expect(textProblem(42, 10)).toBe('must be a string');
    expect(textProblem(' \n\t ', 10)).toBe('must not be empty or only whitespace');
    expect(textProblem('x'.repeat(11), 10)).toBe('must be at most 10 characters (got 11)');
    expect(textProblem('fine', 10)).toBeUndefined();
  });

  it('checks client ids and sources', () => {
    expect(clientIdProblem('1712345678901234567')).toBeUndefined();
    expect(clientIdProblem('tweet:1')).toMatch(/letters, digits/);
    expect(clientIdProblem('')).toMatch(/letters, digits/);
    expect(clientIdProblem('x'.repeat(129))).toMatch(/1-128/);
    expect(clientIdProblem(7)).toBe('must be a string');
    expect(sourceProblem('twitter')).toBeUndefined();
    expect(sourceProblem('has space')).toMatch(/1-64/);
  });
});

describe('checkClassifyPayload', () => {
  const good = { v: 1, items: [{ id: 'a', text: 'hello' }], enqueuedAt: 1 };

  it('accepts a well-formed payload', () => {
    expect(checkClassifyPayload(good, 100, 4)).toEqual({ ok: true, payload: good });
  });

  it.each([
    [null, 'payload is not an object'],
    [{ ...good, v: 2 }, 'unsupported payload version 2'],
    [{ ...good, items: [] }, 'items must be a non-empty array'],
    [{ ...good, items: Array(5).fill({ id: 'a', text: 'b' }) }, 'items has 5 entries, at most 4 allowed'],
    [{ ...good, items: ['text'] }, 'items[0] is not an object'],
    [{ ...good, items: [{ text: 'x' }] }, 'items[0].id must be a non-empty string'],
    [{ ...good, items: [{ id: 'a', text: '  ' }] }, 'items[0].text must not be empty or only whitespace'],
    [{ ...good, source: 'bad source' }, 'source must be 1-64 characters of letters, digits, "_", "." or "-"'],
    [{ ...good, enqueuedAt: 'now' }, 'enqueuedAt must be a timestamp in ms'],
  ])('rejects %j', (payload, reason) => {
    expect(checkClassifyPayload(payload, 100, 4)).toEqual({ ok: false, reason });
  });
});
