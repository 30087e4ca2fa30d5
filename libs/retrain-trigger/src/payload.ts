/** What the drift monitor asks for: one retraining request, tied to the drift report that motivated it. */
export interface RetrainRequest {
  /** The drift report's id, so the workflow run can be traced back to it. */
  reportId: string;
  /** The model version that drifted. */
  modelVersion: string;
  /** Human-readable reasons, most important first (the first ones are kept when the list is trimmed). */
  reasons: string[];
  /** Drift metrics by name, most important first (the first ones are kept when the map is trimmed). */
  metrics: Record<string, number>;
  /** The labelled-data snapshot the retrain must use (`<store>@<revision>`); absent when none exists yet. */
  datasetSnapshot?: string;
}

/** What was left out to respect GitHub's limits; present only when something was. */
export interface PayloadTruncation {
  /** `kept` first reasons of `total` were sent. */
  reasons: { total: number; kept: number };
  /** `kept` first metrics of `total` were sent (non-finite values cannot be sent in JSON and are never kept). */
  metrics: { total: number; kept: number };
  /** Reasons, report id or model version cut to their length cap (they end in `…`). */
  shortenedStrings: number;
}

/** The `client_payload` of the `repository_dispatch` event, as the workflow sees it. */
export interface RetrainClientPayload {
  reportId: string;
  modelVersion: string;
  reasons: string[];
  metrics: Record<string, number>;
  /** ISO 8601 time of the trigger call. */
  requestedAt: string;
  /** See RetrainRequest.datasetSnapshot. */
  datasetSnapshot?: string;
  truncated?: PayloadTruncation;
}

/** GitHub: "The maximum number of top-level properties is 10." */
export const MAX_CLIENT_PAYLOAD_KEYS = 10;
/**
 * GitHub allows a `client_payload` of "64 KB". We keep its UTF-8 JSON under 64,000 bytes, which satisfies
 * both readings of the unit (64,000 or 65,536 bytes).
 */
export const MAX_CLIENT_PAYLOAD_BYTES = 64_000;
/** Longest reason kept whole; longer ones are cut and end in `…`. */
export const MAX_REASON_CHARS = 1_000;
/** Longest report id or model version kept whole. */
export const MAX_ID_CHARS = 200;
/** A snapshot location is a repository or path plus a revision; longer ones are refused, never cut (a cut one would name other data). */
export const MAX_SNAPSHOT_CHARS = 500;

const ELLIPSIS = '…';

/**
 * Builds the `client_payload` for a retraining request within GitHub's limits: a fixed set of at most seven top-level
 * keys (at most 10 allowed) and at most `maxBytes` of JSON. When the request does not fit, long strings are
 * shortened and the reasons and metrics lists are cut to their first entries (the room is shared between
 * the two lists, and either list may use what the other does not need); a `truncated` key then says what
 * was left out, so the workflow never mistakes a trimmed report for a complete one.
 */
export function shapeClientPayload(
  request: RetrainRequest,
  requestedAt: Date,
  maxBytes: number = MAX_CLIENT_PAYLOAD_BYTES,
): RetrainClientPayload {
  let shortenedStrings = 0;
  const cap = (text: string, max: number): string => {
    const shortened = shorten(text, max);
    if (shortened !== text) shortenedStrings++;
    return shortened;
  };
  const reportId = cap(String(request.reportId), MAX_ID_CHARS);
  const modelVersion = cap(String(request.modelVersion), MAX_ID_CHARS);
  const reasons = request.reasons.map((reason) => cap(String(reason), MAX_REASON_CHARS));
  const allMetrics = Object.entries(request.metrics);
  const metrics = allMetrics.filter(([, value]) => typeof value === 'number' && Number.isFinite(value));
  if (request.datasetSnapshot !== undefined && request.datasetSnapshot.length > MAX_SNAPSHOT_CHARS)
    throw new Error(
      `a dataset snapshot location of ${request.datasetSnapshot.length} characters is too long`,
    );
  const base = {
    reportId,
    modelVersion,
    requestedAt: requestedAt.toISOString(),
    datasetSnapshot: request.datasetSnapshot,
  };

  const complete = build(base, reasons, metrics);
  if (shortenedStrings === 0 && metrics.length === allMetrics.length && jsonBytes(complete) <= maxBytes) {
    return checked(complete, maxBytes);
  }

  // Room left for the two lists once everything else, including the largest possible `truncated` marker, is in.
  const worstMarker: PayloadTruncation = {
    reasons: { total: reasons.length, kept: reasons.length },
    metrics: { total: allMetrics.length, kept: allMetrics.length },
    shortenedStrings,
  };
  const room = maxBytes - jsonBytes({ ...build(base, [], []), truncated: worstMarker });
  if (room < 0) throw new Error(`a client_payload cannot fit in ${maxBytes} bytes`);

  // Each entry costs its JSON plus a separating comma (and a colon for metrics).
  const reasonCosts = reasons.map((reason, index) => jsonBytes(reason) + (index > 0 ? 1 : 0));
  const metricCosts = metrics.map(
    ([name, value], index) => jsonBytes(name) + 1 + jsonBytes(value) + (index > 0 ? 1 : 0),
  );
  const reasonsNeed = sum(reasonCosts);
  const metricsNeed = sum(metricCosts);
  const half = Math.floor(room / 2);
  const reasonsShare = reasonsNeed <= half ? reasonsNeed : Math.max(half, room - metricsNeed);
  const keptReasons = prefixWithin(reasonCosts, reasonsShare);
  const keptMetrics = prefixWithin(metricCosts, room - sum(reasonCosts.slice(0, keptReasons)));

  return checked(
    {
      ...build(base, reasons.slice(0, keptReasons), metrics.slice(0, keptMetrics)),
      truncated: {
        reasons: { total: reasons.length, kept: keptReasons },
        metrics: { total: allMetrics.length, kept: keptMetrics },
        shortenedStrings,
      },
    },
    maxBytes,
  );
}

/** Size of a value's JSON in UTF-8 bytes, as GitHub counts it. */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

function build(
  base: { reportId: string; modelVersion: string; requestedAt: string; datasetSnapshot?: string },
  reasons: string[],
  metrics: Array<[string, number]>,
): RetrainClientPayload {
  return {
    reportId: base.reportId,
    modelVersion: base.modelVersion,
    reasons,
    metrics: Object.fromEntries(metrics),
    requestedAt: base.requestedAt,
    ...(base.datasetSnapshot !== undefined && { datasetSnapshot: base.datasetSnapshot }),
  };
}

/** Guards the limits for good: a payload GitHub would refuse with 422 is a bug here, not at GitHub. */
function checked(payload: RetrainClientPayload, maxBytes: number): RetrainClientPayload {
  const keys = Object.keys(payload).length;
  if (keys > MAX_CLIENT_PAYLOAD_KEYS) throw new Error(`client_payload has ${keys} top-level keys`);
  const bytes = jsonBytes(payload);
  if (bytes > maxBytes) throw new Error(`client_payload is ${bytes} bytes, over ${maxBytes}`);
  return payload;
}

function shorten(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - ELLIPSIS.length;
  // Never split a surrogate pair (an emoji would turn into an invalid lone surrogate).
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return text.slice(0, end) + ELLIPSIS;
}

function prefixWithin(costs: number[], budget: number): number {
  let used = 0;
  let count = 0;
  for (const cost of costs) {
    if (used + cost > budget) break;
    used += cost;
    count++;
  }
  return count;
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
