/**
 * Checks a cron expression before it reaches BullMQ, so a typo in SCHEDULE stops the app at boot with the
 * variable named instead of failing later inside the job scheduler.
 *
 * Accepted: 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), each a
 * comma-separated list of `*`, `?` (day fields), `N` or `N-M`, any of them optionally followed by `/STEP`;
 * months and weekdays also by name (`jan`, `mon`). That is the common subset of what BullMQ's parser takes;
 * its extensions (`L`, `W`, `#`) are refused rather than guessed at.
 */

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
  question?: boolean;
}

const SECONDS: FieldSpec = { name: 'second', min: 0, max: 59 };
const FIELDS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31, question: true },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
  },
  // 0 and 7 are both Sunday.
  {
    name: 'day of week',
    min: 0,
    max: 7,
    names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
    question: true,
  },
];

/** Undefined when the expression is valid; otherwise what is wrong with it. */
export function cronProblem(expression: string): string | undefined {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) {
    return `needs 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), got ${parts.length}`;
  }
  const specs = parts.length === 6 ? [SECONDS, ...FIELDS] : FIELDS;
  for (let i = 0; i < parts.length; i++) {
    const problem = fieldProblem(parts[i], specs[i]);
    if (problem) return `${specs[i].name} field "${parts[i]}": ${problem}`;
  }
  return undefined;
}

function fieldProblem(field: string, spec: FieldSpec): string | undefined {
  for (const item of field.split(',')) {
    if (item === '') return 'empty list item';
    const [range, step, ...extra] = item.split('/');
    if (extra.length > 0) return `"${item}" has more than one step`;
    if (step !== undefined && !(/^\d+$/.test(step) && Number(step) >= 1)) {
      return `step "${step}" must be a whole number of at least 1`;
    }
    if (range === '*' || (range === '?' && spec.question)) continue;
    const bounds = range.split('-');
    if (bounds.length > 2) return `"${range}" is not a value or a range`;
    const values = bounds.map((bound) => value(bound, spec));
    if (values.some((v) => v === undefined)) {
      return `"${range}" is outside ${spec.min}-${spec.max}${spec.names ? ' (or a name)' : ''}`;
    }
    if (values.length === 2 && (values[0] as number) > (values[1] as number)) {
      return `range "${range}" runs backwards`;
    }
  }
  return undefined;
}

function value(text: string, spec: FieldSpec): number | undefined {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    return n >= spec.min && n <= spec.max ? n : undefined;
  }
  const index = spec.names?.indexOf(text.toLowerCase()) ?? -1;
  if (index < 0) return undefined;
  return spec.min === 1 ? index + 1 : index;
}
