import { cronProblem } from './cron';

describe('cronProblem', () => {
  it.each([
    '*/15 * * * *',
    '0 * * * *',
    '0 3 * * mon-fri',
    '0,30 8-18 1-15/2 jan,jul ?',
    '*/2 * * * * *',
    '0 0 * * 7',
    // BullMQ's parser takes these, so SCHEDULE does too.
    '@daily',
    '0 0 L * *',
    '0 9 * * 1#1',
  ])('accepts %s', (expression) => {
    expect(cronProblem(expression)).toBeUndefined();
  });

  it.each([
    ['', 'needs 5 fields'],
    ['* * * *', 'got 4'],
    ['60 * * * *', 'got value 60 expected range 0-59'],
    ['* 24 * * *', 'expected range 0-23'],
    ['* * 0 * *', 'expected range 1-31'],
    ['*/0 * * * *', 'cannot repeat at every 0 time'],
    ['5-1 * * * *', 'Invalid range: 5-1'],
    ['* * * foo *', 'cannot resolve alias "foo"'],
    ['1,,2 * * * *', 'Invalid list value format'],
    ['? * * * *', 'Invalid characters'],
    // A date that never comes: BullMQ would reject it at run time.
    ['0 0 31 2 *', 'Invalid explicit day of month definition'],
  ])('refuses "%s"', (expression, message) => {
    expect(cronProblem(expression)).toContain(message);
  });
});
