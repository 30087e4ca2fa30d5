import { parseExpression } from 'cron-parser';

/**
 * Checks SCHEDULE at boot with the parser BullMQ's job scheduler uses (cron-parser, same version), so a typo
 * stops the app with the variable named instead of failing later inside the scheduler; whatever passes here
 * BullMQ accepts (`@daily`, `L`, `#`), and a date that never comes (`0 0 31 2 *`) is refused. One rule of our
 * own: 5 or 6 fields (or an `@` macro), since cron-parser fills a missing field with `*` without a word.
 */
export function cronProblem(expression: string): string | undefined {
  const trimmed = expression.trim();
  const fields = trimmed.split(/\s+/).filter(Boolean).length;
  if (!trimmed.startsWith('@') && fields !== 5 && fields !== 6) {
    return `needs 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), got ${fields}`;
  }
  try {
    // next() as well: some impossible dates pass parsing and fail only when a time is computed.
    parseExpression(trimmed).next();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}
