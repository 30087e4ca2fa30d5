import { cronProblem } from './cron';

describe('cronProblem', () => {
  it.each([
    '*/15 * * * *',
    '0 * * * *',
    '0 3 * * mon-fri',
    '0,30 8-18 1-15/2 jan,jul ?',
    '*/2 * * * * *',
    '0 0 * * 7',
  ])('accepts %s', (expression) => {
    expect(cronProblem(expression)).toBeUndefined();
  });

  it.each([
    ['', 'needs 5 fields'],
    ['* * * *', 'got 4'],
    ['60 * * * *', 'minute field "60": "60" is outside 0-59'],
    ['* 24 * * *', 'hour field "24"'],
    ['* * 0 * *', 'day of month field "0"'],
    ['*/0 * * * *', 'step "0" must be a whole number of at least 1'],
    ['5-1 * * * *', 'range "5-1" runs backwards'],
    ['* * * foo *', 'month field "foo"'],
    ['1,,2 * * * *', 'empty list item'],
    ['? * * * *', 'minute field "?"'],
    ['0 0 L * *', 'day of month field "L"'],
  ])('refuses "%s"', (expression, message) => {
    expect(cronProblem(expression)).toContain(message);
  });
});
