import { Logger } from '@nestjs/common';
import { Registry } from 'prom-client';
import type { FeedbackRecord } from '@reputation-monitor/contracts';
import type { RetrainRequest, RetrainResult } from '@reputation-monitor/retrain-trigger';
import type { AssignmentView } from './candidate';
import type { DriftHistoryEntry } from './decision';
import { loadDriftConfig } from './drift-config';
import { DriftRunService, RunBusyError } from './drift-run.service';
import type { StoredBaseline, StoredProfile } from './drift-store';
import type { GoldenRun } from './golden-runner';
import { DriftMetrics } from './metrics/drift-metrics';
import type { RunReport } from './report';
import type { StreamEntry, WindowBounds } from './window';

const MIN = 60_000;
const T0 = Date.parse('2025-01-02T00:00:00Z');
const LABELS = ['negative', 'neutral', 'positive'] as const;

/** A seeded stream of worker-format entries in [start, start + 1 min). */
function window(start: number, count: number, shifted: boolean, version = 'v1'): StreamEntry[] {
  let seed = start % 2_147_483_647;
  const random = () => (seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647;
  return Array.from({ length: count }, (_, i) => {
    const label = shifted ? (random() < 0.85 ? 'negative' : 'positive') : LABELS[Math.floor(random() * 3)];
    const top = shifted ? 0.9 + random() * 0.09 : 0.4 + random() * 0.5;
    const rest = (1 - top) / 2;
    const scores = { negative: rest, neutral: rest, positive: rest, [label]: top };
    const at = start + Math.floor((i * MIN) / count);
    const fields = {
      id: `p-${at}-${i}`,
      label,
      negative: scores.negative.toFixed(6),
      neutral: scores.neutral.toFixed(6),
      positive: scores.positive.toFixed(6),
      tokens: String(shifted ? 40 + Math.floor(random() * 20) : 10 + Math.floor(random() * 30)),
      truncated: '0',
      model: 'tiny',
      version,
      source: 'twitter',
      at: String(at),
    };
    return [`${at}-${i}`, Object.entries(fields).flat()] as StreamEntry;
  });
}

/** The Redis-backed store, in memory. */
class MemoryStore {
  stream: StreamEntry[] = [];
  feedback: Array<{ at: number; record: FeedbackRecord }> = [];
  profiles = new Map<string, StoredProfile>();
  baselines = new Map<string, StoredBaseline>();
  histories = new Map<string, DriftHistoryEntry[]>();
  reports: RunReport[] = [];
  success: number | undefined;
  /** The cross-replica run lease: who holds it, and how long each run was willing to wait. */
  leaseHolder: string | undefined;
  leaseWaits: number[] = [];
  /** What the stream read reports: whether its cap had cut into the window. */
  trimmed = false;

  async readStream(bounds: WindowBounds) {
    const entries = this.stream.filter(([id]) => {
      const at = Number(id.split('-')[0]);
      return at >= bounds.start && at < bounds.end;
    });
    return { entries, capped: false, trimmed: this.trimmed };
  }
  async readFeedback(bounds: WindowBounds) {
    const records = this.feedback
      .filter(({ at }) => at >= bounds.start && at < bounds.end)
      .map(({ record }) => record);
    return { records, unreadable: 0 };
  }
  assignment: AssignmentView = { assignment: undefined, servedAs: {} };
  async readAssignment() {
    return this.assignment;
  }
  async getProfile(version: string) {
    return this.profiles.get(version);
  }
  async createProfile(version: string, stored: StoredProfile) {
    if (!this.profiles.has(version)) this.profiles.set(version, stored);
    return {
      stored: this.profiles.get(version) as StoredProfile,
      created: this.profiles.get(version) === stored,
    };
  }
  async getBaseline(version: string) {
    return this.baselines.get(version);
  }
  async createBaseline(version: string, baseline: StoredBaseline) {
    if (!this.baselines.has(version)) this.baselines.set(version, baseline);
    return {
      stored: this.baselines.get(version) as StoredBaseline,
      created: this.baselines.get(version) === baseline,
    };
  }
  async history(version: string) {
    return this.histories.get(version) ?? [];
  }
  async recordWindow(version: string, entry: DriftHistoryEntry) {
    const kept = (this.histories.get(version) ?? []).filter((old) => old.windowEnd !== entry.windowEnd);
    this.histories.set(version, [...kept, entry]);
  }
  async saveReport(report: RunReport) {
    this.reports.unshift(report);
  }
  async latestReports(limit: number) {
    return this.reports.slice(0, limit);
  }
  async markSuccess(at: Date) {
    this.success = at.getTime() / 1000;
  }
  async lastSuccess() {
    return this.success;
  }
  async acquireRunLease(owner: string, waitMs: number) {
    this.leaseWaits.push(waitMs);
    if (this.leaseHolder !== undefined) return undefined;
    this.leaseHolder = owner;
    return {
      held: () => this.leaseHolder === owner,
      release: async () => {
        if (this.leaseHolder === owner) this.leaseHolder = undefined;
      },
    };
  }
}

function goldenRun(version = 'v1'): GoldenRun {
  const pairs = LABELS.flatMap((truth) => LABELS.map((predicted) => ({ truth, predicted }))); // 9 pairs, 3 right
  return {
    modelVersion: version,
    modelName: 'tiny',
    pairs,
    predictions: pairs.map((pair, i) => ({
      id: `g-${i}`,
      label: pair.predicted,
      scores: { negative: 0.2, neutral: 0.2, positive: 0.2, [pair.predicted]: 0.6 },
      tokens: 12,
      truncated: false,
    })),
    otherVersions: 0,
    durationMs: 5,
  };
}

beforeAll(() => Logger.overrideLogger(false));

describe('DriftRunService', () => {
  let store: MemoryStore;
  let golden: { enabled: boolean; run: jest.Mock };
  let retrain: { dryRun: boolean; trigger: jest.Mock<Promise<RetrainResult>, [RetrainRequest]> };
  let registry: Registry;
  let service: DriftRunService;
  let exporter: { export: jest.Mock<Promise<unknown>, [boolean]> };
  /** The example buffer's counters as Redis keeps them (what the buffer's own tests cover). */
  let bufferCounts: jest.Mock<Promise<Record<string, number>>, []>;

  beforeEach(() => {
    store = new MemoryStore();
    golden = { enabled: true, run: jest.fn(async () => goldenRun()) };
    retrain = {
      dryRun: false,
      trigger: jest.fn(async (_request: RetrainRequest): Promise<RetrainResult> => ({
        outcome: 'dispatched',
        attempts: 1,
        status: 204,
      })),
    };
    registry = new Registry();
    const config = loadDriftConfig({ WINDOW_MINUTES: '1', MIN_QUALITY_SAMPLES: '5' });
    bufferCounts = jest.fn(async () => ({
      stored: 9,
      duplicate: 1,
      relabelled: 0,
      expired: 2,
      exported: 5,
      deleted: 0,
      evicted: 3,
    }));
    const metrics = new DriftMetrics(registry, store as never, { counters: bufferCounts } as never);
    exporter = {
      export: jest.fn(async (force: boolean) => ({
        status: force ? 'exported' : 'unchanged',
        store: '/data/examples',
        pending: force ? 5 : 0,
        snapshot: { location: '/data/examples@rev1', revision: 'rev1', examples: 5, manifestSha256: 'sha' },
        ...(force && { batch: { id: 'batch-1', examples: 5, unreadable: 0, written: true } }),
      })),
    };
    service = new DriftRunService(
      store as never,
      golden as never,
      retrain as never,
      metrics,
      exporter as never,
      config,
    );
  });

  it('builds the reference from the first window, then confirms drift over two windows and asks to retrain once', async () => {
    store.stream = [
      ...window(T0, 300, false),
      ...window(T0 + MIN, 300, false),
      ...window(T0 + 2 * MIN, 300, true),
      ...window(T0 + 3 * MIN, 300, true),
    ];
    // Feedback in the second window: 5 labels of v1 (4 right), 1 of another version.
    const record = (id: string, label: string, predicted: string, modelVersion = 'v1') =>
      ({ id, label, predicted, modelVersion, predictedAt: T0, at: T0 + MIN + 1 }) as FeedbackRecord;
    store.feedback = [
      ...['negative', 'neutral', 'positive', 'positive'].map((label, i) => ({
        at: T0 + MIN + i,
        record: record(`f${i}`, label, label),
      })),
      { at: T0 + MIN + 10, record: record('f4', 'negative', 'positive') },
      { at: T0 + MIN + 11, record: record('f5', 'negative', 'negative', 'v0') },
    ];

    const first = await service.run({ windowEnd: T0 + MIN, triggeredBy: 'manual' });
    expect(first).toMatchObject({
      outcome: 'success',
      model: { version: 'v1', name: 'tiny' },
      samples: { entries: 300, evaluated: 300 },
      reference: { status: 'created', source: 'window', count: 300 },
      drift: { status: 'reference_created', drifted: false },
      baseline: { source: 'created', macroRecall: 1 / 3, count: 9 },
      quality: {
        golden: { status: 'measured', count: 9, accuracy: 1 / 3 },
        feedback: { status: 'no_samples' },
      },
      decision: { retrain: false, rule: 'none' },
      retrain: { requested: false },
    });

    const clean = await service.run({ windowEnd: T0 + 2 * MIN, triggeredBy: 'manual' });
    expect(clean).toMatchObject({
      reference: { status: 'stored', createdBy: first.id },
      drift: { status: 'evaluated', drifted: false, insufficient: false, windowCount: 300 },
      baseline: { source: 'stored', createdBy: first.id },
      quality: {
        feedback: {
          status: 'measured',
          count: 5,
          accuracy: 0.8,
          ignored: { otherVersions: 1, unreadable: 0 },
        },
      },
      decision: { retrain: false, numbers: { driftStreak: 0 } },
    });
    // Quality rules ran (5 labels >= MIN_QUALITY_SAMPLES) and held.
    expect(clean.decision.details).toContain('golden: macroRecall 0.333 is within 0.05 of baseline 0.333');

    const drifted = await service.run({ windowEnd: T0 + 3 * MIN, triggeredBy: 'schedule' });
    expect(drifted.drift.drifted).toBe(true);
    expect(drifted.decision).toMatchObject({ retrain: false, numbers: { driftStreak: 1 } });
    expect(retrain.trigger).not.toHaveBeenCalled();

    const confirmed = await service.run({ windowEnd: T0 + 4 * MIN, triggeredBy: 'schedule' });
    expect(confirmed.decision).toMatchObject({
      retrain: true,
      rule: 'drift-confirmed',
      numbers: { driftStreak: 2 },
    });
    expect(confirmed.decision.numbers.windows.map((w) => w.drifted)).toEqual([false, false, true, true]);
    expect(confirmed.retrain).toEqual({ requested: true, outcome: 'dispatched', attempts: 1, status: 204 });
    expect(retrain.trigger).toHaveBeenCalledTimes(1);
    const request = retrain.trigger.mock.calls[0][0];
    expect(request).toMatchObject({
      reportId: confirmed.id,
      modelVersion: 'v1',
      // Pending labels are exported before the request, which names the snapshot to train on.
      datasetSnapshot: '/data/examples@rev1',
    });
    expect(exporter.export.mock.calls.map(([force]) => force)).toEqual([false, false, false, true]);
    expect(confirmed.dataset).toMatchObject({ status: 'exported', batch: { examples: 5 } });
    expect(request.reasons[0]).toBe('drift in 2 consecutive windows (2 confirm it)');
    expect(request.metrics).toMatchObject({
      golden_macro_recall: 1 / 3,
      drift_streak: 2,
      window_samples: 300,
    });

    expect(store.reports.map((report) => report.id)).toEqual([confirmed.id, drifted.id, clean.id, first.id]);
    const metrics = await registry.metrics();
    expect(metrics).toContain('drift_monitor_runs_total{outcome="success"} 4');
    expect(metrics).toContain('drift_monitor_retrain_triggers_total{outcome="dispatched"} 1');
    expect(metrics).toContain('drift_monitor_dataset_exports_total{outcome="exported"} 1');
    expect(metrics).toContain('drift_monitor_exported_examples_total 5');
    expect(metrics).toContain('drift_monitor_dataset_examples 5');
    // Examples that never reached the store are visible, not only counted in Redis.
    expect(metrics).toContain('drift_monitor_example_buffer_examples{outcome="evicted"} 3');
    expect(metrics).toContain('drift_monitor_example_buffer_examples{outcome="expired"} 2');
    bufferCounts.mockRejectedValueOnce(new Error('Connection is closed.'));
    const withoutRedis = await registry.metrics();
    expect(withoutRedis).not.toContain('drift_monitor_example_buffer_examples{');
    expect(withoutRedis).toContain('drift_monitor_dataset_examples 5');
    expect(metrics).toContain('drift_monitor_drift_streak_windows{model_version="v1"} 2');
    expect(metrics).toMatch(
      /drift_monitor_drift_statistic\{model_version="v1",statistic="labelMix"\} 0\.\d+/,
    );
    expect(metrics).toContain(
      'drift_monitor_quality{model_version="v1",source="golden",metric="accuracy"} 0.333',
    );
    expect(metrics).toMatch(/drift_monitor_last_success_timestamp_seconds \d+/);
  });

  it('leaves shadow predictions out of drift and compares them with production as a candidate', async () => {
    const clean = window(T0 + MIN, 300, false);
    store.stream = [...window(T0, 300, false), ...clean];
    await service.run({ windowEnd: T0 + MIN, triggeredBy: 'manual' });
    const without = await service.run({ windowEnd: T0 + 2 * MIN, triggeredBy: 'manual' });
    expect(without.candidate).toBeUndefined();
    expect(without.samples.shadow).toBe(0);

    // A candidate in shadow mode scored every text of the second window: always "negative", long-winded.
    const field = (fields: string[], name: string) => fields[fields.indexOf(name) + 1];
    const shadow = clean.map(([id, fields]): StreamEntry => {
      const twin = Object.fromEntries(fields.flatMap((value, i) => (i % 2 ? [] : [[value, fields[i + 1]]])));
      Object.assign(twin, {
        label: 'negative',
        negative: '0.980000',
        neutral: '0.010000',
        positive: '0.010000',
      });
      Object.assign(twin, { tokens: '90', version: 'cand-1', role: 'shadow' });
      return [id.replace(/-(\d+)$/, (_, seq) => `-${Number(seq) + 1000}`), Object.entries(twin).flat()];
    });
    store.stream.push(...shadow);
    // 120 of them labelled (with what production said, which was right).
    store.feedback = clean.slice(0, 120).map(([, fields], i) => ({
      at: T0 + MIN + i,
      record: {
        id: field(fields, 'id'),
        label: field(fields, 'label'),
        predicted: field(fields, 'label'),
        modelVersion: 'v1',
        predictedAt: T0 + MIN,
        at: T0 + MIN + i,
      } as FeedbackRecord,
    }));
    store.assignment = {
      assignment: {
        revision: 3,
        production: { id: 'v1-dir', location: '/models/v1' },
        candidate: { version: { id: 'cand-dir', location: '/models/cand' }, mode: 'shadow', share: 1 },
        change: {
          action: 'set-candidate',
          actor: 'cli:ops',
          reason: 'shadow it',
          at: '2025-01-02T00:00:00Z',
        },
      },
      servedAs: { 'v1-dir': 'v1', 'cand-dir': 'cand-1' },
    };
    const withShadow = await service.run({ windowEnd: T0 + 2 * MIN, triggeredBy: 'manual' });
    expect(withShadow.samples).toMatchObject({ entries: 600, evaluated: 300, shadow: 300, otherVersions: 0 });
    expect(withShadow.drift.statistics).toEqual(without.drift.statistics);
    expect(withShadow.drift.drifted).toBe(false);
    expect(withShadow.candidate).toMatchObject({
      status: 'tested',
      version: 'cand-1',
      productionVersion: 'v1',
      mode: 'shadow',
      share: 1,
      assignment: { revision: 3, productionId: 'v1-dir', candidateId: 'cand-dir' },
      pairs: 300,
      labelled: 120,
      quality: { production: { accuracy: 1, macroRecall: 1 } },
      minLabelled: 5,
      alpha: 0.01,
      worse: true,
    });
    expect(withShadow.candidate?.test?.pProductionBetter).toBeLessThan(0.01);
    const agreement = withShadow.candidate?.agreement as number;
    expect(agreement).toBeGreaterThan(0.2);
    expect(agreement).toBeLessThan(0.5);

    const metrics = await registry.metrics();
    const series = 'model_version="v1",candidate_version="cand-1",mode="shadow"';
    expect(metrics).toContain(`drift_monitor_candidate_pairs{${series}} 300`);
    expect(metrics).toContain(`drift_monitor_candidate_labelled_pairs{${series}} 120`);
    expect(metrics).toContain(`drift_monitor_candidate_agreement{${series}} ${agreement}`);
    expect(metrics).toContain(`drift_monitor_candidate_worse{${series}} 1`);
    expect(metrics).toContain(
      `drift_monitor_candidate_quality{${series},role="production",metric="macro_recall"} 1`,
    );
    expect(metrics).toMatch(
      new RegExp(
        `drift_monitor_candidate_quality\\{${series},role="candidate",metric="accuracy"\\} 0\\.\\d+`,
      ),
    );
  });

  it('says why there is no reference yet and keeps the window out of the history', async () => {
    store.stream = window(T0, 50, false);
    const report = await service.run({ windowEnd: T0 + MIN, triggeredBy: 'cli' });
    expect(report.reference.status).toBe('missing');
    expect(report.reference.message).toContain('at least 200 predictions in the window (this one has 50)');
    expect(report.drift).toMatchObject({ status: 'no_reference', drifted: false, insufficient: true });
    expect(store.histories.size).toBe(0);
  });

  it('says in the report and a metric when the stream had dropped the start of the window', async () => {
    store.stream = window(T0, 300, false);
    const whole = await service.run({ windowEnd: T0 + MIN, triggeredBy: 'cli' });
    expect(whole.samples).toMatchObject({ capped: false, trimmed: false });
    store.trimmed = true;
    const cut = await service.run({ windowEnd: T0 + MIN, triggeredBy: 'cli' });
    expect(cut.samples).toMatchObject({ capped: false, trimmed: true });
    // The window is still judged on what was left: the report is not partial, only marked.
    expect(cut.outcome).toBe('success');
    const metrics = await registry.metrics();
    expect(metrics).toContain('drift_monitor_window_incomplete{model_version="v1",reason="trimmed"} 1');
    expect(metrics).toContain('drift_monitor_window_incomplete{model_version="v1",reason="capped"} 0');
  });

  it('writes a partial report when the golden set fails, and still judges drift', async () => {
    golden.run.mockRejectedValue(new Error('job abc still running after 100 ms'));
    store.stream = window(T0, 300, false);
    const report = await service.run({ windowEnd: T0 + MIN, triggeredBy: 'manual' });
    expect(report).toMatchObject({
      outcome: 'partial',
      errors: ['golden set: job abc still running after 100 ms'],
      quality: { golden: { status: 'failed', error: 'golden set: job abc still running after 100 ms' } },
      baseline: { source: 'none' },
      reference: { status: 'created' },
    });
    expect(await registry.metrics()).toContain('drift_monitor_runs_total{outcome="partial"} 1');
    expect(store.success).toBeUndefined();
  });

  it('requests a retrain when an operator asks, even over a window without traffic, naming the snapshot', async () => {
    golden.enabled = false;
    const report = await service.run({
      triggeredBy: 'manual',
      requestRetrain: true,
      windowEnd: T0 + 50 * MIN,
    });
    expect(report.model.version).toBeNull();
    expect(report.decision).toMatchObject({ retrain: true, rule: 'requested', source: 'operator' });
    expect(exporter.export).toHaveBeenLastCalledWith(true);
    expect(retrain.trigger).toHaveBeenCalledTimes(1);
    expect(retrain.trigger.mock.calls[0][0]).toMatchObject({
      modelVersion: 'unknown',
      datasetSnapshot: '/data/examples@rev1',
    });
  });

  it('counts a failed run and rethrows', async () => {
    store.readStream = async () => {
      throw new Error('Connection is closed.');
    };
    await expect(service.run({ triggeredBy: 'manual' })).rejects.toThrow('Connection is closed.');
    expect(await registry.metrics()).toContain('drift_monitor_runs_total{outcome="failed"} 1');
    // The next run is not blocked by the failed one.
    store.readStream = MemoryStore.prototype.readStream.bind(store);
    await expect(service.run({ triggeredBy: 'manual' })).resolves.toMatchObject({ outcome: 'success' });
  });

  it('holds the cross-replica lease for the run and releases it, even when the run fails', async () => {
    store.stream = window(T0, 300, false);
    let holderDuringRun: string | undefined;
    golden.run.mockImplementation(async () => {
      holderDuringRun = store.leaseHolder;
      return goldenRun();
    });
    await service.run({ windowEnd: T0 + MIN, triggeredBy: 'manual' });
    expect(holderDuringRun).toMatch(/^[0-9a-f-]{36}$/);
    expect(store.leaseHolder).toBeUndefined();

    store.readStream = async () => {
      throw new Error('Connection is closed.');
    };
    await expect(service.run({ triggeredBy: 'schedule' })).rejects.toThrow('Connection is closed.');
    expect(store.leaseHolder).toBeUndefined();
    expect(store.leaseWaits).toEqual([10_000, 600_000]);
  });

  it('refuses to run while another replica holds the lease: nothing read, stored or counted', async () => {
    store.leaseHolder = 'another-replica';
    store.stream = window(T0, 300, false);
    await expect(service.run({ windowEnd: T0 + MIN, triggeredBy: 'manual' })).rejects.toThrow(RunBusyError);
    expect(golden.run).not.toHaveBeenCalled();
    expect(store.reports).toEqual([]);
    expect(await registry.metrics()).toContain('drift_monitor_runs_total{outcome="failed"} 0');
    // Once it is free, the next run goes ahead.
    store.leaseHolder = undefined;
    await expect(service.run({ windowEnd: T0 + MIN, triggeredBy: 'manual' })).resolves.toMatchObject({
      outcome: 'success',
    });
  });
});
