import { DEFAULT_REPORT_LIMIT, parseLimit, parseRunRequest } from './requests';

const NOW = Date.parse('2025-01-02T03:00:00Z');

describe('parseRunRequest', () => {
  it('takes no body, an empty object or a window end', () => {
    expect(parseRunRequest(undefined, NOW)).toEqual({ ok: true, value: {} });
    expect(parseRunRequest({}, NOW)).toEqual({ ok: true, value: {} });
    expect(parseRunRequest({ windowEnd: '2025-01-02T02:00:00Z' }, NOW)).toEqual({
      ok: true,
      value: { windowEnd: Date.parse('2025-01-02T02:00:00Z') },
    });
    expect(parseRunRequest({ windowEnd: '2025-01-02T03:00:30.500+00:00' }, NOW)).toMatchObject({ ok: true });
    expect(parseRunRequest({ retrain: true }, NOW)).toEqual({ ok: true, value: { retrain: true } });
    expect(parseRunRequest({ retrain: false }, NOW)).toEqual({ ok: true, value: {} });
  });

  it('refuses a retrain flag that is not a boolean', () => {
    expect(parseRunRequest({ retrain: 'yes' }, NOW)).toEqual({
      ok: false,
      errors: [{ field: 'retrain', message: 'must be true or false' }],
    });
  });

  it('names each bad field', () => {
    expect(parseRunRequest({ windowEnd: 'yesterday', model: 'x' }, NOW)).toEqual({
      ok: false,
      errors: [
        { field: 'model', message: 'is not an allowed field' },
        { field: 'windowEnd', message: 'must be an ISO 8601 date-time such as 2025-01-02T03:00:00Z' },
      ],
    });
    expect(parseRunRequest({ windowEnd: 1735786800000 }, NOW)).toMatchObject({ ok: false });
    expect(parseRunRequest({ windowEnd: '2025-01-02' }, NOW)).toMatchObject({ ok: false });
    expect(parseRunRequest({ windowEnd: '2025-01-02T04:00:00Z' }, NOW)).toEqual({
      ok: false,
      errors: [{ field: 'windowEnd', message: 'must not be in the future (got 2025-01-02T04:00:00Z)' }],
    });
    expect(parseRunRequest([1], NOW)).toEqual({
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
