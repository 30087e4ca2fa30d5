import {
  SoakResult,
  SoakSample,
  readTweetEval,
  redisMemoryBudget,
  runSoak,
} from '@reputation-monitor/app-harness';
import { TINY_MODEL_DIR, WORKSPACE_ROOT } from './support/paths';

// Redis memory is bounded by settings, not by traffic: a gateway and a worker on a redis-server of this
// suite's own, small bounds, distinct texts from loopback until every bounded family has turned over; after
// that warm-up, used_memory must stay under the budget computed from the settings while texts keep flowing.
// `npm run soak` is the long, manual form of the same run (docs/capacity.md "Redis memory").
const SETTINGS = {
  indexMax: 3_000,
  cacheMax: 1_500,
  streamMax: 1_500,
  resultsMax: 300,
  batchSize: 16,
};
// Mostly single texts: BullMQ's event stream (10,000 events, 4 per job) fills after 2,500 jobs.
const LOAD = { singles: 12, batches: 1 };
/** The soak's own bound: it stops as soon as the plateau is long enough, and never runs longer than this. */
const MAX_LOAD_MS = 55_000;

const texts = readTweetEval('test').map((tweet) => tweet.text);
const workerEnv = {
  PREDICTION_INDEX_MAX_ENTRIES: String(SETTINGS.indexMax),
  RESULT_CACHE_MAX_ENTRIES: String(SETTINGS.cacheMax),
  PREDICTION_STREAM_MAXLEN: String(SETTINGS.streamMax),
  WORKER_CONCURRENCY: '16',
};
const gatewayEnv = {
  RESULT_MAX_COUNT: String(SETTINGS.resultsMax),
  MAX_BATCH_ITEMS: String(SETTINGS.batchSize),
};

/** Warm: every bounded family has been filled and turned over at least once (the rings have rotated). */
function warm(sample: SoakSample): boolean {
  return (
    sample.texts >= 1.25 * Math.max(SETTINGS.indexMax, SETTINGS.cacheMax, SETTINGS.streamMax) &&
    sample.completedJobs >= SETTINGS.resultsMax &&
    sample.eventsEntries >= 10_000
  );
}

/** The plateau: samples after warm-up, with at least twice the index's capacity of texts in it. */
function plateau(samples: readonly SoakSample[]): SoakSample[] {
  const start = samples.findIndex(warm);
  return start < 0 ? [] : samples.slice(start);
}
const longEnough = (samples: readonly SoakSample[]) => {
  const level = plateau(samples);
  return level.length >= 8 && level[level.length - 1].texts - level[0].texts >= 2 * SETTINGS.indexMax;
};

/** Least-squares slope of used_memory over texts served: bytes Redis keeps per further text. */
function bytesPerText(samples: readonly SoakSample[]): number {
  const n = samples.length;
  const mx = samples.reduce((sum, s) => sum + s.texts, 0) / n;
  const my = samples.reduce((sum, s) => sum + s.usedMemory, 0) / n;
  const cov = samples.reduce((sum, s) => sum + (s.texts - mx) * (s.usedMemory - my), 0);
  const vx = samples.reduce((sum, s) => sum + (s.texts - mx) ** 2, 0);
  return vx > 0 ? cov / vx : 0;
}

let result: SoakResult;

beforeAll(async () => {
  result = await runSoak({
    workspaceRoot: WORKSPACE_ROOT,
    modelDir: TINY_MODEL_DIR,
    durationMs: MAX_LOAD_MS,
    sampleMs: 1_000,
    stopWhen: longEnough,
    ...LOAD,
    batchSize: SETTINGS.batchSize,
    texts,
    workerEnv,
    gatewayEnv,
  });
  const mb = (bytes: number) => (bytes / 1_048_576).toFixed(2);
  console.log(
    [
      `soak: ${result.texts} texts in ${result.seconds.toFixed(1)} s, statuses ${JSON.stringify(result.statuses)}, ` +
        `used_memory before the load ${mb(result.baselineMemory)} MB`,
      '     t   used MB    texts  index  cache  stream  jobs  events',
      ...result.samples.map(
        (s) =>
          `${s.seconds.toFixed(0).padStart(6)} ${mb(s.usedMemory).padStart(9)} ${String(s.texts).padStart(8)} ` +
          `${String(s.indexEntries).padStart(6)} ${String(s.cacheEntries).padStart(6)} ${String(s.streamEntries).padStart(7)} ` +
          `${String(s.completedJobs).padStart(5)} ${String(s.eventsEntries).padStart(7)}${warm(s) ? '  warm' : ''}`,
      ),
      ...result.footprint.families.map(
        (f) =>
          `${f.family.padEnd(20)} ${mb(f.bytes).padStart(7)} MB, ${f.entries} entries` +
          (f.entries > 0 ? `, ${(f.bytes / f.entries).toFixed(0)} B each` : ''),
      ),
    ].join('\n'),
  );
}, 90_000);

describe('Redis memory under a sustained load', () => {
  it('serves every request', () => {
    expect(Object.keys(result.statuses)).toEqual(['200']);
  });

  it('levels off after warm-up under the budget computed from the settings, while texts keep flowing', () => {
    const level = plateau(result.samples);
    expect(level.length).toBeGreaterThanOrEqual(8);
    const flowed = level[level.length - 1].texts - level[0].texts;
    // More than the index holds went through after warm-up: had it grown with traffic, it would show.
    expect(flowed).toBeGreaterThanOrEqual(2 * SETTINGS.indexMax);

    // The budget counts every completed job as large as the largest the gateway accepts (MAX_BATCH_ITEMS).
    const textBytes = texts.reduce((sum, text) => sum + Buffer.byteLength(text), 0) / texts.length + 7; // " #12345"
    const budget = redisMemoryBudget(
      {
        resultMaxCount: SETTINGS.resultsMax,
        inFlightJobs: LOAD.singles + LOAD.batches,
        predictionStreamMaxLen: SETTINGS.streamMax,
        predictionIndexMaxEntries: SETTINGS.indexMax,
        resultCacheMaxEntries: SETTINGS.cacheMax,
      },
      { textsPerJob: SETTINGS.batchSize, largestJobTexts: SETTINGS.batchSize, textBytes },
    );
    const highest = Math.max(...level.map((s) => s.usedMemory));
    console.log(
      `plateau: ${level.length} samples, ${flowed} texts, used_memory ${(Math.min(...level.map((s) => s.usedMemory)) / 1_048_576).toFixed(2)}` +
        `..${(highest / 1_048_576).toFixed(2)} MB, budget ${(budget.total / 1_048_576).toFixed(2)} MB ` +
        `(${budget.families.map((f) => `${f.family} ${(f.bytes / 1_048_576).toFixed(2)}`).join(', ')}), ` +
        `slope ${bytesPerText(level).toFixed(1)} B per text`,
    );
    expect(highest).toBeLessThanOrEqual(budget.total);
    // And the same formula with the jobs as they came (their mean size, sampled from the jobs Redis kept at the
    // end, which the kept results and events come from; the run's mean over requests can differ from it), which
    // is how docs/capacity.md sizes a Redis: it must hold too, so the per-record figures are not just loose.
    const textsPerJob = result.footprint.jobs.textsPerJob;
    const asServed = redisMemoryBudget(
      {
        resultMaxCount: SETTINGS.resultsMax,
        inFlightJobs: LOAD.singles + LOAD.batches,
        predictionStreamMaxLen: SETTINGS.streamMax,
        predictionIndexMaxEntries: SETTINGS.indexMax,
        resultCacheMaxEntries: SETTINGS.cacheMax,
      },
      { textsPerJob, largestJobTexts: SETTINGS.batchSize, textBytes },
    );
    console.log(
      `budget with the jobs as served (${textsPerJob.toFixed(2)} texts each): ${(asServed.total / 1_048_576).toFixed(2)} MB`,
    );
    expect(highest).toBeLessThanOrEqual(asServed.total);
    // Level, not rising: an index or a cache growing with traffic alone would keep 200-300 B per text.
    expect(bytesPerText(level)).toBeLessThan(100);
  });

  it('holds each bounded family within its setting at the end', () => {
    const families = Object.fromEntries(result.footprint.families.map((f) => [f.family, f.entries]));
    expect(families['prediction index']).toBeLessThanOrEqual(SETTINGS.indexMax);
    expect(families['prediction index']).toBeGreaterThanOrEqual((SETTINGS.indexMax * 7) / 8);
    expect(families['result cache']).toBeLessThanOrEqual(SETTINGS.cacheMax);
    expect(families['prediction stream']).toBeLessThanOrEqual(SETTINGS.streamMax + 100);
    expect(families['completed set']).toBe(SETTINGS.resultsMax);
    expect(families['jobs']).toBeLessThanOrEqual(SETTINGS.resultsMax + LOAD.singles + LOAD.batches);
  });
});
