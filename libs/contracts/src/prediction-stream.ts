import { Prediction, ModelInfo } from './jobs';
import { SentimentLabel, SentimentScores, parseLabel } from './labels';

/**
 * Which part a model version plays when it answered: `production` answers clients; `canary` answers the
 * share of jobs routed to the candidate; `shadow` scores texts beside production and answers nobody.
 * Entries written before roles existed read as `production`.
 */
export const MODEL_ROLES = ['production', 'canary', 'shadow'] as const;
export type ModelRole = (typeof MODEL_ROLES)[number];

/**
 * One entry of the prediction stream (`redisKeys.predictionStream`): written by the inference worker for
 * every prediction, read by the drift monitor. This file is the one codec of that record.
 */
export interface StreamPrediction {
  /** When the entry was appended (ms since epoch, from the stream id): what windows are cut by. */
  streamAt: number;
  id: string;
  label: SentimentLabel;
  scores: SentimentScores;
  tokens: number;
  truncated: boolean;
  model: string;
  version: string;
  source: string;
  role: ModelRole;
  /** The request that asked for it (the gateway's x-request-id), when one did. */
  requestId?: string;
}

/** An XRANGE reply entry as ioredis returns it: the stream id and the flat field/value list. */
export type StreamEntry = [id: string, fields: string[]];

/** The XADD field/value list of one prediction (scores rounded to 6 decimals: 1e-6 is below any drift test's resolution). */
export function predictionStreamFields(
  prediction: Prediction,
  model: ModelInfo,
  source: string | undefined,
  at: number,
  role: ModelRole = 'production',
  requestId?: string,
): Array<string | number> {
  const request = requestId === undefined ? [] : ['request', requestId];
  return [
    'id',
    prediction.id,
    'label',
    prediction.label,
    'negative',
    prediction.scores.negative.toFixed(6),
    'neutral',
    prediction.scores.neutral.toFixed(6),
    'positive',
    prediction.scores.positive.toFixed(6),
    'tokens',
    prediction.tokens,
    'truncated',
    prediction.truncated ? 1 : 0,
    'model',
    model.name,
    'version',
    model.version,
    'source',
    source ?? '',
    'at',
    at,
    'role',
    role,
    ...request,
  ];
}

/** Reads one stream entry; undefined for anything the worker would not have written. */
export function parseStreamEntry(entry: StreamEntry): StreamPrediction | undefined {
  const [streamId, list] = entry;
  const streamAt = Number(streamId.split('-')[0]);
  if (!Number.isSafeInteger(streamAt)) return undefined;
  const fields = new Map<string, string>();
  for (let i = 0; i + 1 < list.length; i += 2) fields.set(list[i], list[i + 1]);
  const label = parseLabel(fields.get('label'));
  const scores = {
    negative: numeric(fields.get('negative')),
    neutral: numeric(fields.get('neutral')),
    positive: numeric(fields.get('positive')),
  };
  const tokens = numeric(fields.get('tokens'));
  const truncated = fields.get('truncated');
  const version = fields.get('version');
  const role = fields.get('role') ?? 'production';
  const scoreValues = Object.values(scores);
  if (
    label === undefined ||
    scoreValues.some((score) => !Number.isFinite(score) || score < 0) ||
    scoreValues.every((score) => score === 0) ||
    !Number.isInteger(tokens) ||
    tokens < 0 ||
    (truncated !== '0' && truncated !== '1') ||
    !version ||
    !(MODEL_ROLES as readonly string[]).includes(role)
  ) {
    return undefined;
  }
  return {
    streamAt,
    id: fields.get('id') ?? '',
    label,
    scores,
    tokens,
    truncated: truncated === '1',
    model: fields.get('model') ?? '',
    version,
    source: fields.get('source') ?? '',
    role: role as ModelRole,
    ...(fields.has('request') && { requestId: fields.get('request') }),
  };
}

/** Number() reads '' and ' ' as 0; a missing field must not pass for a zero. */
function numeric(text: string | undefined): number {
  return text === undefined || text.trim() === '' ? NaN : Number(text);
}
