import type { Redis } from 'ioredis';
import {
  FeedbackRecord,
  ModelAssignment,
  ModelRole,
  SENTIMENT_LABELS,
  SentimentLabel,
  encodeAssignment,
  encodeWorkerStatus,
  predictionStreamFields,
  redisKeys,
} from '@reputation-monitor/contracts';
import { AppProcess, adminAuth, startDriftMonitor, stopAll, waitFor } from './support/apps';
import { connectRedis, deletePrefix, uniquePrefix } from './support/redis';
import { postJson, request } from './support/http';

// The drift monitor's candidate comparison against the built app and a real Redis: the test writes the
// stream as the workers do while a candidate is assigned (the answered prediction, and the other version's
// prediction of the same id with role `shadow`) plus feedback labels, then asks for runs over its windows.
const prefix = uniquePrefix('drift-candidate');
const PRODUCTION = 'e2e-prod-1';
const WORSE = 'e2e-cand-worse';
const AGREEING = 'e2e-cand-agrees';
const MODEL = 'synthetic-tiny';
const PER_WINDOW = 300;
const LABELLED = 150;
const MIN = 60_000;

/** Seeded, so every run of the suite writes the same windows. */
function seededRandom(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 48_271) % 2_147_483_647) / 2_147_483_647;
}

interface Scored {
  id: string;
  at: number;
  label: SentimentLabel;
}

/** What the candidate says about a text production labelled `label`, and its confidence and length. */
type Shadow = (label: SentimentLabel, i: number) => SentimentLabel;

/**
 * XADDs one minute of production traffic in the worker's format, with explicit (increasing) stream ids: an
 * even label mix, middling confidence, short texts. With `shadow`, each text also gets the candidate's
 * prediction (role shadow, same id, right after it): confident and long, so if the monitor counted shadow
 * predictions as traffic the window would drift.
 */
async function addWindow(
  redis: Redis,
  start: number,
  seed: number,
  shadow?: { version: string; label: Shadow },
) {
  const random = seededRandom(seed);
  const pipeline = redis.pipeline();
  const scored: Scored[] = [];
  const add = (
    id: string,
    at: number,
    seq: number,
    label: SentimentLabel,
    top: number,
    tokens: number,
    version: string,
    role: ModelRole,
  ) => {
    const rest = (1 - top) / 2;
    const scores: Record<SentimentLabel, number> = { negative: rest, neutral: rest, positive: rest };
    scores[label] = top;
    pipeline.xadd(
      redisKeys.predictionStream(prefix),
      `${at}-${seq}`,
      ...predictionStreamFields(
        { id, label, scores, tokens, truncated: false },
        { name: MODEL, version },
        'twitter',
        at,
        role,
      ),
    );
  };
  for (let i = 0; i < PER_WINDOW; i++) {
    const at = start + Math.floor((i * MIN) / PER_WINDOW);
    const id = `p-${at}`;
    const label = SENTIMENT_LABELS[Math.floor(random() * 3)];
    add(id, at, 0, label, 0.4 + random() * 0.5, 10 + Math.floor(random() * 30), PRODUCTION, 'production');
    if (shadow) add(id, at, 1, shadow.label(label, i), 0.97, 90, shadow.version, 'shadow');
    scored.push({ id, at, label });
  }
  await pipeline.exec();
  return scored;
}

/** Feedback labels as the gateway stores them (one record per id plus the time index): production was right. */
async function addFeedback(redis: Redis, scored: Scored[]) {
  const pipeline = redis.pipeline();
  for (const { id, at, label } of scored) {
    const record: FeedbackRecord = {
      id,
      label,
      predicted: label,
      modelVersion: PRODUCTION,
      predictedAt: at,
      at: at + 100,
    };
    pipeline.set(redisKeys.feedback(prefix, id), JSON.stringify(record));
    pipeline.zadd(redisKeys.feedbackByTime(prefix), record.at, id);
  }
  await pipeline.exec();
}

let redis: Redis;
let monitor: AppProcess;
/** Ends of four consecutive one-minute windows: reference, clean, clean with a worse shadow, clean with an agreeing one. */
let ends: number[];
const reports: Record<string, any> = {};

async function run(windowEnd: number): Promise<any> {
  const response = await postJson(
    `${monitor.url}/v1/runs`,
    { windowEnd: new Date(windowEnd).toISOString() },
    adminAuth,
  );
  if (response.status !== 200)
    throw new Error(`POST /v1/runs: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body;
}

/** The value of one series on /metrics, once it is `expected` (the gauges cache a scrape's report for 1 s). */
async function metricValue(series: string, expected: number): Promise<number> {
  let last: number | undefined;
  await waitFor(
    async () => {
      const text = String((await request(`${monitor.url}/metrics`, {})).body);
      const line = text.split('\n').find((l) => l.startsWith(series + ' '));
      last = line === undefined ? undefined : Number(line.slice(series.length + 1));
      return last === expected ? true : undefined;
    },
    5_000,
    `${series} = ${expected}`,
  ).catch(() => undefined);
  return last as number;
}

beforeAll(async () => {
  redis = connectRedis();
  const t0 = Date.now() - 5_000;
  ends = [t0 - 3 * MIN, t0 - 2 * MIN, t0 - MIN, t0];
  await addWindow(redis, ends[0] - MIN, 11);
  // The same traffic twice (same seed): alone, then with a candidate beside it that is wrong on 60 % of
  // the non-negative texts.
  await addWindow(redis, ends[1] - MIN, 22);
  const worse = await addWindow(redis, ends[2] - MIN, 22, {
    version: WORSE,
    label: (label, i) =>
      label === 'negative' || i % 5 < 2 ? label : SENTIMENT_LABELS[(SENTIMENT_LABELS.indexOf(label) + 1) % 3],
  });
  const agreeing = await addWindow(redis, ends[3] - MIN, 33, { version: AGREEING, label: (label) => label });
  await addFeedback(redis, [...worse.slice(0, LABELLED), ...agreeing.slice(0, LABELLED)]);

  monitor = await startDriftMonitor({
    QUEUE_PREFIX: prefix,
    SCHEDULE: 'off',
    WINDOW_MINUTES: '1',
    MIN_QUALITY_SAMPLES: '100',
  });
}, 90_000);

afterAll(async () => {
  await stopAll();
  if (redis) {
    await deletePrefix(redis, prefix);
    redis.disconnect();
  }
});

describe('drift monitor: a candidate scored beside production', () => {
  it('has no candidate section without a candidate or shadow predictions', async () => {
    reports.reference = await run(ends[0]);
    expect(reports.reference).toMatchObject({
      outcome: 'success',
      model: { version: PRODUCTION },
      samples: { entries: PER_WINDOW, evaluated: PER_WINDOW, shadow: 0 },
      reference: { status: 'created', count: PER_WINDOW },
    });
    expect(reports.reference.candidate).toBeUndefined();
    reports.alone = await run(ends[1]);
    expect(reports.alone.drift).toMatchObject({ status: 'evaluated', drifted: false });
    expect(reports.alone.candidate).toBeUndefined();
  });

  it('calls a candidate worse when production is better on the labelled pairs, and exports 1', async () => {
    const report = await run(ends[2]);
    reports.worse = report;
    expect(report.candidate).toMatchObject({
      status: 'tested',
      version: WORSE,
      productionVersion: PRODUCTION,
      mode: 'shadow',
      share: null,
      assignment: null,
      pairs: PER_WINDOW,
      unpaired: 0,
      labelled: LABELLED,
      alpha: 0.01,
      minLabelled: 100,
      worse: true,
      quality: { production: { accuracy: 1, macroRecall: 1, macroF1: 1 } },
    });
    const { test, quality, agreement, reasons } = report.candidate;
    expect(quality.candidate.macroRecall).toBeLessThan(0.8);
    expect(test.productionMacroRecall).toBe(1);
    expect(test.difference).toBeGreaterThan(0.2);
    expect(test.pProductionBetter).toBeLessThan(0.001);
    expect(test.pCandidateBetter).toBe(1);
    expect(agreement).toBeGreaterThan(0.4);
    expect(agreement).toBeLessThan(0.8);
    expect(reasons.join('\n')).toMatch(
      /production is better, paired sign-flip p = .* < 0\.01 \(CANDIDATE_ALPHA\)/,
    );

    const series = `model_version="${PRODUCTION}",candidate_version="${WORSE}",mode="shadow"`;
    expect(await metricValue(`drift_monitor_candidate_worse{${series},app="drift-monitor"}`, 1)).toBe(1);
    expect(
      await metricValue(`drift_monitor_candidate_pairs{${series},app="drift-monitor"}`, PER_WINDOW),
    ).toBe(PER_WINDOW);
    expect(
      await metricValue(`drift_monitor_candidate_agreement{${series},app="drift-monitor"}`, agreement),
    ).toBe(agreement);
    expect(
      await metricValue(
        `drift_monitor_candidate_quality{${series},role="production",metric="macro_recall",app="drift-monitor"}`,
        1,
      ),
    ).toBe(1);
    expect(
      await metricValue(
        `drift_monitor_candidate_quality{${series},role="candidate",metric="macro_recall",app="drift-monitor"}`,
        quality.candidate.macroRecall,
      ),
    ).toBe(quality.candidate.macroRecall);
  });

  it("leaves shadow predictions out of production's drift statistics", () => {
    const { alone, worse } = reports;
    expect(worse.samples).toMatchObject({
      entries: 2 * PER_WINDOW,
      evaluated: PER_WINDOW,
      shadow: PER_WINDOW,
      otherVersions: 0,
      byVersion: { [PRODUCTION]: PER_WINDOW },
    });
    expect(worse.model.version).toBe(PRODUCTION);
    expect(worse.drift.drifted).toBe(false);
    // The same traffic with and without the (confident, long-winded) shadow: the very same statistics.
    expect(worse.drift.statistics).toEqual(alone.drift.statistics);
    expect(worse.drift.windowCount).toBe(alone.drift.windowCount);
  });

  it('does not call an agreeing candidate worse; the assignment names it and its share', async () => {
    const assignment: ModelAssignment = {
      revision: 4,
      production: { id: 'prod-dir', location: '/models/prod' },
      candidate: {
        version: { id: 'agreeing-dir', location: '/models/agreeing' },
        mode: 'shadow',
        share: 0.5,
      },
      change: {
        action: 'set-candidate',
        actor: 'cli:e2e',
        reason: 'shadow it',
        at: new Date().toISOString(),
      },
    };
    await redis.set(redisKeys.modelAssignment(prefix), encodeAssignment(assignment));
    await redis.hset(
      redisKeys.modelWorkerStatus(prefix),
      'worker-1',
      encodeWorkerStatus({
        workerId: 'worker-1',
        revision: 4,
        state: 'serving',
        serving: [
          { id: 'prod-dir', modelVersion: PRODUCTION, role: 'production' },
          { id: 'agreeing-dir', modelVersion: AGREEING, role: 'candidate' },
        ],
        at: new Date().toISOString(),
      }),
    );
    const report = await run(ends[3]);
    expect(report.candidate).toMatchObject({
      status: 'tested',
      version: AGREEING,
      productionVersion: PRODUCTION,
      mode: 'shadow',
      share: 0.5,
      assignment: { revision: 4, productionId: 'prod-dir', candidateId: 'agreeing-dir' },
      pairs: PER_WINDOW,
      agreement: 1,
      labelled: LABELLED,
      worse: false,
      test: { difference: 0, discordant: 0, pProductionBetter: 1 },
    });
    expect(report.candidate.quality.candidate).toEqual(report.candidate.quality.production);
    expect(report.samples).toMatchObject({ evaluated: PER_WINDOW, shadow: PER_WINDOW });

    const series = `model_version="${PRODUCTION}",candidate_version="${AGREEING}",mode="shadow"`;
    expect(await metricValue(`drift_monitor_candidate_worse{${series},app="drift-monitor"}`, 0)).toBe(0);
    expect(await metricValue(`drift_monitor_candidate_agreement{${series},app="drift-monitor"}`, 1)).toBe(1);
    // Only the latest report has series: the worse candidate's are gone.
    const text = String((await request(`${monitor.url}/metrics`, {})).body);
    expect(text).not.toContain(`candidate_version="${WORSE}"`);
  });
});
