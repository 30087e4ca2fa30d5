import { buildProfile, compareToProfile, qualityMetrics } from '@reputation-monitor/drift-stats';
import { decide } from './decision';
import {
  REPORT_ID_PATTERN,
  RunReport,
  driftSection,
  newReportId,
  qualityRows,
  qualitySection,
  qualitySummary,
  retrainRequest,
  retrainSection,
  statisticRows,
} from './report';

const sample = (label: 'negative' | 'neutral' | 'positive', top: number, tokens = 20) => {
  const rest = (1 - top) / 2;
  return {
    label,
    scores: { negative: rest, neutral: rest, positive: rest, [label]: top },
    tokens,
    truncated: false,
  };
};
const labels = ['negative', 'neutral', 'positive'] as const;
const reference = Array.from({ length: 600 }, (_, i) =>
  sample(labels[i % 3], 0.5 + (i % 7) * 0.05, 10 + (i % 30)),
);
const shifted = Array.from({ length: 300 }, (_, i) =>
  sample(i % 10 === 0 ? 'positive' : 'negative', 0.97, 60),
);

describe('report ids', () => {
  it('sort by time and are unique', () => {
    const at = new Date('2025-01-02T03:15:00.123Z');
    const id = newReportId(at);
    expect(id).toMatch(/^20250102T031500123Z-[0-9a-f]{6}$/);
    expect(id).toMatch(REPORT_ID_PATTERN);
    expect(newReportId(at)).not.toBe(id);
  });
});

describe('quality sections', () => {
  it('carry every figure with the count, and feed the decision', () => {
    const section = qualitySection(
      'feedback',
      'v1',
      qualityMetrics([
        { truth: 'positive', predicted: 'positive' },
        { truth: 'negative', predicted: 'positive' },
        { truth: 'neutral', predicted: 'neutral' },
        { truth: 'negative', predicted: 'negative' },
      ]),
      { ignored: { otherVersions: 2, unreadable: 1 } },
    );
    expect(section).toMatchObject({
      source: 'feedback',
      status: 'measured',
      modelVersion: 'v1',
      count: 4,
      accuracy: 0.75,
      ignored: { otherVersions: 2, unreadable: 1 },
      confusion: [
        [1, 0, 1],
        [0, 1, 0],
        [0, 0, 1],
      ],
    });
    expect(section.macroRecall).toBeCloseTo((0.5 + 1 + 1) / 3, 10);
    expect(qualitySummary(section)).toEqual({ accuracy: 0.75, macroRecall: section.macroRecall, count: 4 });
  });

  it('say no_samples for an empty window, which the decision skips', () => {
    const section = qualitySection('feedback', 'v1', qualityMetrics([]));
    expect(section).toEqual({ source: 'feedback', status: 'no_samples', modelVersion: 'v1', count: 0 });
    expect(qualitySummary(section)).toBeUndefined();
  });
});

describe('statistic rows and the retrain request', () => {
  const profile = buildProfile(reference, { modelVersion: 'v1' });
  const drift = driftSection(compareToProfile(profile, shifted));

  it('list each statistic with its value and p-value', () => {
    expect(drift.drifted).toBe(true);
    const rows = statisticRows(drift);
    expect(rows.map((row) => row.statistic)).toEqual([
      'labelMix',
      'confidence',
      'entropy',
      'tokens',
      'truncation',
    ]);
    const labelMix = rows[0];
    expect(labelMix.drifted).toBe(true);
    expect(labelMix.value).toBeGreaterThan(0.1);
    expect(labelMix.pValue).toBeLessThan(0.002);
  });

  it('leaves out statistics without a number', () => {
    const small = driftSection(compareToProfile(profile, shifted.slice(0, 10)));
    expect(small.insufficient).toBe(true);
    expect(statisticRows(small)).toEqual([]);
  });

  it('asks GitHub with the fired reasons first, then the drift reasons, and the key numbers', () => {
    const quality = {
      golden: qualitySection('golden', 'v1', qualityMetrics([{ truth: 'positive', predicted: 'positive' }])),
      feedback: qualitySection('feedback', 'v1', qualityMetrics([])),
    };
    const w = (end: number, drifted: boolean) => ({
      reportId: `r${end}`,
      windowStart: end - 10,
      windowEnd: end,
      drifted,
    });
    const decision = decide({
      quality: {},
      baseline: undefined,
      chain: [w(10, true), w(20, true)],
      settings: {
        tolerance: 0.05,
        minQualitySamples: 100,
        absoluteAccuracyFloor: undefined,
        consecutiveWindows: 2,
      },
    });
    const request = retrainRequest({
      id: 'report-1',
      model: { version: 'v1', name: 'tiny' },
      decision,
      drift,
      samples: {
        entries: 300,
        evaluated: 300,
        golden: 0,
        malformed: 0,
        shadow: 0,
        otherVersions: 0,
        byVersion: {},
        capped: false,
      },
      baseline: { source: 'created', macroRecall: 0.4, accuracy: 0.5 },
      quality,
      dataset: {
        status: 'exported',
        store: '/data/examples',
        pending: 12,
        snapshot: { location: '/data/examples@abc', revision: 'abc', examples: 340, manifestSha256: 'abc' },
      },
    });
    expect(request.datasetSnapshot).toBe('/data/examples@abc');
    expect(request.metrics.dataset_examples).toBe(340);
    expect(request.reportId).toBe('report-1');
    expect(request.modelVersion).toBe('v1');
    expect(request.reasons[0]).toBe('drift in 2 consecutive windows (2 confirm it)');
    expect(request.reasons[1]).toMatch(/^this window: label mix: JS distance/);
    expect(Object.keys(request.metrics).slice(0, 6)).toEqual([
      'golden_macro_recall',
      'golden_accuracy',
      'golden_count',
      'baseline_macro_recall',
      'drift_streak',
      'window_samples',
    ]);
    expect(request.metrics.drift_labelMix).toBe(statisticRows(drift)[0].value);
  });
});

describe('quality rows', () => {
  it('label each figure with the version that made the predictions', () => {
    const report = {
      model: { version: 'v2', name: null },
      quality: {
        golden: qualitySection(
          'golden',
          'v1',
          qualityMetrics([{ truth: 'positive', predicted: 'negative' }]),
        ),
        feedback: qualitySection('feedback', 'v2', qualityMetrics([])),
      },
    } as Pick<RunReport, 'model' | 'quality'>;
    expect(qualityRows(report)).toEqual([
      { modelVersion: 'v1', source: 'golden', metric: 'accuracy', value: 0 },
      { modelVersion: 'v1', source: 'golden', metric: 'macro_recall', value: 0 },
      { modelVersion: 'v1', source: 'golden', metric: 'macro_precision', value: 0 },
      { modelVersion: 'v1', source: 'golden', metric: 'macro_f1', value: 0 },
    ]);
  });
});

describe('retrainSection', () => {
  it('records the outcome with its cooldown', () => {
    expect(
      retrainSection({ outcome: 'dispatched', attempts: 1, status: 204, cooldownUntil: new Date(0) }, false),
    ).toEqual({
      requested: true,
      outcome: 'dispatched',
      attempts: 1,
      status: 204,
      cooldownUntil: '1970-01-01T00:00:00.000Z',
    });
    expect(retrainSection({ outcome: 'dry_run', attempts: 0 }, true)).toEqual({
      requested: true,
      outcome: 'dry_run',
      attempts: 0,
      dryRun: true,
    });
  });
});
