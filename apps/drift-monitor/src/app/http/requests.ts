import type { FieldError } from '@reputation-monitor/contracts';

/** How far ahead of this replica's clock a window may end (other hosts' clocks drift a little). */
export const MAX_CLOCK_SKEW_MS = 60_000;
export const DEFAULT_REPORT_LIMIT = 20;
export const MAX_REPORT_LIMIT = 100;

export type Parsed<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

export interface RunRequest {
  windowEnd?: number;
  /** Ask for a retrain whatever the rules say (the pending labelled examples are exported first). */
  retrain?: boolean;
}

/**
 * The optional body of POST /v1/runs: `{}` or nothing evaluates the window ending now;
 * `{ "windowEnd": "2025-01-02T03:00:00Z" }` evaluates the window ending then (to re-run or backfill one);
 * `{ "retrain": true }` also requests a retrain on the latest labelled data, whatever the rules decide.
 */
export function parseRunRequest(body: unknown, now: number, windowMs: number): Parsed<RunRequest> {
  if (body === undefined || body === null) return { ok: true, value: {} };
  if (typeof body !== 'object' || Array.isArray(body)) {
    return { ok: false, errors: [{ field: '(body)', message: 'must be a JSON object' }] };
  }
  const errors: FieldError[] = [];
  for (const key of Object.keys(body)) {
    if (key !== 'windowEnd' && key !== 'retrain')
      errors.push({ field: key, message: 'is not an allowed field' });
  }
  const retrain = (body as { retrain?: unknown }).retrain;
  if (retrain !== undefined && typeof retrain !== 'boolean')
    errors.push({ field: 'retrain', message: 'must be true or false' });
  const raw = (body as { windowEnd?: unknown }).windowEnd;
  let windowEnd: number | undefined;
  if (raw !== undefined) {
    const parsed = typeof raw === 'string' && ISO_8601.test(raw) ? Date.parse(raw) : NaN;
    if (!Number.isFinite(parsed)) {
      errors.push({
        field: 'windowEnd',
        message: 'must be an ISO 8601 date-time such as 2025-01-02T03:00:00Z',
      });
    } else if (parsed > now + MAX_CLOCK_SKEW_MS) {
      errors.push({ field: 'windowEnd', message: `must not be in the future (got ${raw})` });
    } else if (parsed - windowMs < 0) {
      // The window would start before 1970: no prediction can be in it, and stream ids cannot express it.
      errors.push({
        field: 'windowEnd',
        message: `must be at least one window (${windowMs / 60_000} min) after 1970-01-01T00:00:00Z (got ${raw})`,
      });
    } else {
      windowEnd = parsed;
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    value: {
      ...(windowEnd !== undefined && { windowEnd }),
      ...(retrain === true && { retrain: true }),
    },
  };
}

/** `?limit=` of GET /v1/reports: 1..MAX_REPORT_LIMIT, default DEFAULT_REPORT_LIMIT. */
export function parseLimit(raw: unknown): Parsed<number> {
  if (raw === undefined) return { ok: true, value: DEFAULT_REPORT_LIMIT };
  const text = typeof raw === 'string' ? raw : '';
  const value = /^\d{1,6}$/.test(text) ? Number(text) : NaN;
  if (!(value >= 1 && value <= MAX_REPORT_LIMIT)) {
    return {
      ok: false,
      errors: [
        {
          field: 'limit',
          message: `must be a whole number in 1..${MAX_REPORT_LIMIT}, got ${JSON.stringify(raw)}`,
        },
      ],
    };
  }
  return { ok: true, value };
}

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
