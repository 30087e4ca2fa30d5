import type { Redis } from 'ioredis';
import {
  ModelInfo,
  ModelRole,
  Prediction,
  StreamEntry,
  encodeIndexedPrediction,
  predictionStreamFields,
  redisKeys,
  scopedPredictionId,
} from '@reputation-monitor/contracts';
import { CappedHashRing } from '@reputation-monitor/redis-connection';

export interface PredictionLogOptions {
  prefix: string;
  /** Approximate cap of the stream (MAXLEN ~, so Redis trims whole macro-nodes cheaply). */
  streamMaxLen: number;
  /** Hours a prediction stays findable by id for feedback (0: no index), unless the index is full first. */
  indexHours: number;
  /** Most predictions the index holds (a capped ring: the oldest eighth is dropped when it is full). */
  indexMaxEntries: number;
}

/** One job's predictions as the worker records them. */
export interface LoggedPredictions {
  predictions: readonly Prediction[];
  model: ModelInfo;
  source: string | undefined;
  at: number;
  /** The job that holds the texts (lets feedback without a text find it). */
  jobId?: string;
  /** The job's owner: prediction ids are streamed and indexed within it (scopedPredictionId). */
  tenant?: string;
  /** The request that created the job, recorded with each prediction in the stream. */
  requestId?: string;
  role?: ModelRole;
  /** Shadow predictions go to the stream only: the index points feedback at what the client got. */
  index?: boolean;
}

/**
 * The prediction stream and the prediction index, written by the inference worker: every prediction is
 * appended to a capped stream (the drift monitor's input) and indexed by id in a capped ring of hashes
 * (how the gateway matches a feedback label to the prediction it corrects). Both are bounded by count,
 * so their memory does not grow with traffic.
 */
export class PredictionLog {
  private readonly index: CappedHashRing | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly options: PredictionLogOptions,
  ) {
    this.index =
      options.indexHours > 0
        ? new CappedHashRing(redis, {
            key: redisKeys.predictionIndex(options.prefix),
            limits: { maxEntries: options.indexMaxEntries, retainMs: options.indexHours * 3_600_000 },
          })
        : undefined;
  }

  async append(entries: readonly LoggedPredictions[]): Promise<void> {
    const pipeline = this.redis.pipeline();
    const stream = redisKeys.predictionStream(this.options.prefix);
    const indexed: Array<[string, string]> = [];
    for (const entry of entries) {
      const scoped = entry.predictions.map((prediction) =>
        entry.tenant === undefined
          ? prediction
          : { ...prediction, id: scopedPredictionId(entry.tenant, prediction.id) },
      );
      for (const prediction of scoped) {
        pipeline.xadd(
          stream,
          'MAXLEN',
          '~',
          this.options.streamMaxLen,
          '*',
          ...predictionStreamFields(
            prediction,
            entry.model,
            entry.source,
            entry.at,
            entry.role,
            entry.requestId,
          ),
        );
      }
      if (this.index && entry.index !== false) {
        for (const prediction of scoped) {
          indexed.push([
            prediction.id,
            encodeIndexedPrediction({
              label: prediction.label,
              at: entry.at,
              modelVersion: entry.model.version,
              ...(entry.jobId !== undefined && { jobId: entry.jobId }),
            }),
          ]);
        }
      }
    }
    if (this.index && indexed.length > 0) this.index.addTo(pipeline, indexed);
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error);
    if (failed) throw failed[0] as Error;
  }
}

/** Entries read per XRANGE call. */
const STREAM_PAGE = 5_000;

export interface WindowBounds {
  /** Inclusive, ms since epoch. */
  start: number;
  /** Exclusive, ms since epoch. */
  end: number;
}

/** XRANGE arguments for [start, end): ms-only ids mean `start-0` and `end-1` with any sequence. */
export function streamRange(bounds: WindowBounds): { from: string; to: string } {
  return { from: String(bounds.start), to: String(bounds.end - 1) };
}

/** A window of the prediction stream as read: its entries, and whether any of it is missing. */
export interface StreamWindow {
  /** Oldest first; decode them with parseStreamEntry. */
  entries: StreamEntry[];
  /** The window held more than `max` entries: only the oldest `max` were read. */
  capped: boolean;
  /**
   * The stream's cap (PREDICTION_STREAM_MAXLEN, too small for the window at this traffic) had most likely
   * trimmed the window's oldest entries before they were read (see trimmedSince). Known on Redis 7+; false on
   * older servers.
   */
  trimmed: boolean;
}

/** The window's stream entries, oldest first, at most `max` (then `capped`), and whether trimming cut into it. */
export async function readPredictionWindow(
  redis: Redis,
  prefix: string,
  bounds: WindowBounds,
  max: number,
): Promise<StreamWindow> {
  const key = redisKeys.predictionStream(prefix);
  const range = streamRange(bounds);
  const entries: StreamEntry[] = [];
  let from = range.from;
  let capped = false;
  for (;;) {
    const page = (await redis.xrange(key, from, range.to, 'COUNT', STREAM_PAGE)) as StreamEntry[];
    entries.push(...page);
    capped = entries.length > max;
    if (capped || page.length < STREAM_PAGE) break;
    from = `(${page[page.length - 1][0]}`;
  }
  return {
    entries: capped ? entries.slice(0, max) : entries,
    capped,
    trimmed: await trimmedSince(redis, key, bounds),
  };
}

/**
 * Whether the stream's cap has likely cut into the window: it has dropped entries (entries-added over its
 * length, XINFO STREAM on Redis 7+) and its oldest remaining entry is newer than the window's start. Trimming
 * takes the oldest entries, so the dropped ones came just before that entry: inside the window unless the
 * traffic paused right at its start. Asked after reading, so trimming during the read counts too.
 */
async function trimmedSince(redis: Redis, key: string, bounds: WindowBounds): Promise<boolean> {
  let info: unknown[];
  try {
    info = (await redis.xinfo('STREAM', key)) as unknown[];
  } catch (error) {
    if (/no such key/i.test((error as Error).message)) return false; // no stream, nothing lost
    throw error;
  }
  const field = (name: string) => {
    const at = info.indexOf(name);
    return at < 0 ? undefined : info[at + 1];
  };
  const added = Number(field('entries-added'));
  const first = field('recorded-first-entry-id');
  if (!Number.isFinite(added) || typeof first !== 'string') return false; // Redis before 7: unknown
  return added > Number(field('length')) && Number(first.split('-')[0]) > bounds.start;
}
