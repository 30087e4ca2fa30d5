/** Reads the few worker metrics the benchmark needs from Prometheus' text exposition format. */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE_LINE.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(LABEL)) {
      labels[key] = value.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    const value = Number(match[3] === '+Inf' ? Infinity : match[3] === '-Inf' ? -Infinity : match[3]);
    samples.push({ name: match[1], labels, value });
  }
  return samples;
}

/** Sum of every series called `name` whose labels include `where` (0 when there is none). */
export function sumSeries(
  samples: readonly Sample[],
  name: string,
  where: Record<string, string> = {},
): number {
  return samples
    .filter(
      (sample) =>
        sample.name === name && Object.entries(where).every(([key, value]) => sample.labels[key] === value),
    )
    .reduce((sum, sample) => sum + sample.value, 0);
}

/** What the worker counted between two scrapes (counters and histogram sums only grow, so this is a difference). */
export interface WorkerCounters {
  batches: number;
  batchTexts: number;
  paddedTokens: number;
  busySeconds: number;
  cacheHits: number;
  cacheMisses: number;
  cacheErrors: number;
  deduplicated: number;
  shadowScored: number;
  shadowDropped: number;
}

export function workerCounters(samples: readonly Sample[]): WorkerCounters {
  return {
    batches: sumSeries(samples, 'sentiment_inference_batch_texts_count'),
    batchTexts: sumSeries(samples, 'sentiment_inference_batch_texts_sum'),
    paddedTokens: sumSeries(samples, 'sentiment_inference_batch_padded_tokens_sum'),
    busySeconds: sumSeries(samples, 'sentiment_inference_busy_seconds_total'),
    cacheHits: sumSeries(samples, 'sentiment_result_cache_lookups_total', { outcome: 'hit' }),
    cacheMisses: sumSeries(samples, 'sentiment_result_cache_lookups_total', { outcome: 'miss' }),
    cacheErrors: sumSeries(samples, 'sentiment_result_cache_lookups_total', { outcome: 'error' }),
    deduplicated: sumSeries(samples, 'sentiment_inference_deduplicated_texts_total'),
    shadowScored: sumSeries(samples, 'sentiment_shadow_texts_total', { outcome: 'scored' }),
    shadowDropped: sumSeries(samples, 'sentiment_shadow_texts_total', { outcome: 'dropped' }),
  };
}

export function counterDelta(before: WorkerCounters, after: WorkerCounters): WorkerCounters {
  const delta = {} as WorkerCounters;
  for (const key of Object.keys(after) as Array<keyof WorkerCounters>) delta[key] = after[key] - before[key];
  return delta;
}

/** Share of looked-up texts the cache answered: hit / (hit + miss + error); undefined when nothing was looked up. */
export function cacheHitRatio(counters: WorkerCounters): number | undefined {
  const lookups = counters.cacheHits + counters.cacheMisses + counters.cacheErrors;
  return lookups > 0 ? counters.cacheHits / lookups : undefined;
}

/** The worker's packing-policy cost model as its gauges last showed it; undefined before its first batch. */
export function workerRunCost(
  samples: readonly Sample[],
): { overheadMs: number; perTokenMs: number } | undefined {
  const perToken = samples.find((sample) => sample.name === 'sentiment_inference_run_seconds_per_token');
  const overhead = samples.find((sample) => sample.name === 'sentiment_inference_run_overhead_seconds');
  if (!perToken || !overhead || !(perToken.value > 0)) return undefined;
  return { overheadMs: overhead.value * 1000, perTokenMs: perToken.value * 1000 };
}

/**
 * Whether the served model had a solo lane when the samples were taken (`sentiment_inference_lanes`); undefined
 * when the worker exports no lanes. A solo lane on trial is not one yet, and its lone runs go to a one-thread lane.
 */
export function workerSoloLane(samples: readonly Sample[]): boolean | undefined {
  const lanes = samples.filter((sample) => sample.name === 'sentiment_inference_lanes');
  if (lanes.length === 0) return undefined;
  return lanes.some((sample) => sample.labels.solo_lane === 'true');
}
