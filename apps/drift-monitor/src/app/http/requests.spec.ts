import { DEFAULT_REPORT_LIMIT, parseLimit, parseRunRequest } from './requests';

const NOW = Date.parse('2025-01-02T03:00:00Z');
const HOUR = 3_600_000;

describe('parseRunRequest', () => {
  it('takes no body, an empty object or a window end', () => {
    expect(parseRunRequest(undefined, NOW, HOUR)).toEqual({ ok: true, value: {} });
    expect(parseRunRequest({}, NOW, HOUR)).toEqual({ ok: true, value: {} });
    expect(parseRunRequest({ windowEnd: '2025-01-02T02:00:00Z' }, NOW, HOUR)).toEqual({
      ok: true,
      value: { windowEnd: Date.parse('2025-01-02T02:00:00Z') },
    });
    expect(parseRunRequest({ windowEnd: '2025-01-02T03:00:30.500+00:00' }, NOW, HOUR)).toMatchObject({
      ok: true,
    });
    expect(parseRunRequest({ retrain: true }, NOW, HOUR)).toEqual({ ok: true, value: { retrain: true } });
    expect(parseRunRequest({ retrain: false }, NOW, HOUR)).toEqual({ ok: true, value: {} });
  });

  it('refuses a retrain flag that is not a boolean', () => {
    expect(parseRunRequest({ retrain: 'yes' }, NOW, HOUR)).toEqual({
      ok: false,
      errors: [{ field: 'retrain', message: 'must be true or false' }],
    });
  });

  it('names each bad field', () => {
    expect(parseRunRequest({ windowEnd: 'yesterday', model: 'x' }, NOW, HOUR)).toEqual({
      ok: false,
      errors: [
        { field: 'model', message: 'is not an allowed field' },
        { field: 'windowEnd', message: 'must be an ISO 8601 date-time such as 2025-01-02T03:00:00Z' },
      ],
    });
    expect(parseRunRequest({ windowEnd: 1735786800000 }, NOW, HOUR)).toMatchObject({ ok: false });
    expect(parseRunRequest({ windowEnd: '2025-01-02' }, NOW, HOUR)).toMatchObject({ ok: false });
    expect(parseRunRequest({ windowEnd: '2025-01-02T04:00:00Z' }, NOW, HOUR)).toEqual({
      ok: false,
      errors: [{ field: 'windowEnd', message: 'must not be in the future (got 2025-01-02T04:00:00Z)' }],
    });
    // A window that would start before 1970 (found by the HTTP fuzzer: Redis refuses such a stream range).
    for (const early of ['1970-01-01T00:00:00Z', '1969-12-31T23:59:59.999Z', '0000-01-01T00:00:00Z']) {
      expect(parseRunRequest({ windowEnd: early }, NOW, HOUR)).toEqual({
        ok: false,
        errors: [
          {
            field: 'windowEnd',
            message: `must be at least one window (60 min) after 1970-01-01T00:00:00Z (got ${early})`,
          },
        ],
      });
    }
    expect(parseRunRequest({ windowEnd: '1970-01-01T01:00:00Z' }, NOW, HOUR)).toMatchObject({ ok: true });
    expect(parseRunRequest([1], NOW, HOUR)).toEqual({
      ok: false,
      errors: [{ field: '(body)', message: 'must be a JSON object' }],
    });
  });
});

describe('parseLimit', () => {
  it('defaults and accepts 1..100', () => {
    expect(parseLimit(undefined)).toEqual({ ok: true, value: DEFAULT_REPORT_LIMIT });
    expect(parseLimit('1')).toEqual({ ok: true, value: 1 });
    expect(parseLimit('100')).toEqual({ ok: true, value: 100 });
  });

  it.each(['0', '101', '-1', '2.5', 'ten', '', ['1', '2']])('refuses %j', (raw) => {
    expect(parseLimit(raw)).toMatchObject({ ok: false, errors: [{ field: 'limit' }] });
  });
});
