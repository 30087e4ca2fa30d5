import { DriftHistoryEntry, consecutiveWindows, decide, driftStreak } from './decision';

const MIN = 60_000;
/** A 60-minute window ending at minute `end`. */
const w = (end: number, drifted: boolean, minutes = 60): DriftHistoryEntry => ({
  reportId: `r${end}`,
  windowStart: (end - minutes) * MIN,
  windowEnd: end * MIN,
  drifted,
});
const settings = {
  tolerance: 0.05,
  minQualitySamples: 100,
  absoluteAccuracyFloor: undefined,
  consecutiveWindows: 2,
};

describe('consecutiveWindows', () => {
  it('chains windows that do not overlap: every 15 minutes over 60-minute windows, the ones 60 apart', () => {
    const history = [w(120, true), w(135, false), w(150, false), w(165, false), w(180, true)];
    const chain = consecutiveWindows(history, w(240, true));
    expect(chain.map((entry) => entry.windowEnd / MIN)).toEqual([120, 180, 240]);
    expect(driftStreak(chain)).toBe(3);
  });

  it('breaks the chain at a gap longer than a window (the monitor was down)', () => {
    const chain = consecutiveWindows([w(60, true), w(200, true)], w(260, true));
    expect(chain.map((entry) => entry.windowEnd / MIN)).toEqual([200, 260]);
  });

  it('ignores windows after the one evaluated and the same window evaluated before', () => {
    const chain = consecutiveWindows([w(60, true), w(120, false), w(180, true)], w(120, true));
    expect(chain.map((entry) => [entry.windowEnd / MIN, entry.drifted])).toEqual([
      [60, true],
      [120, true],
    ]);
  });

  it('stops at the limit', () => {
    const history = [w(60, true), w(120, true), w(180, true)];
    expect(consecutiveWindows(history, w(240, true), 2)).toHaveLength(2);
  });

  it('counts the streak from the newest window back', () => {
    expect(driftStreak([w(60, true), w(120, false), w(180, true)])).toBe(1);
    expect(driftStreak([w(60, true), w(120, true), w(180, false)])).toBe(0);
    expect(driftStreak([])).toBe(0);
  });
});

describe('decide', () => {
  it('retrains on drift confirmed in consecutive windows, with the numbers', () => {
    const decision = decide({
      quality: {},
      baseline: undefined,
      chain: [w(60, false), w(120, true), w(180, true)],
      settings,
    });
    expect(decision).toMatchObject({
      retrain: true,
      rule: 'drift-confirmed',
      source: 'drift',
      fired: [
        { rule: 'drift-confirmed', source: 'drift', reason: 'drift in 2 consecutive windows (2 confirm it)' },
      ],
      numbers: { driftStreak: 2, consecutiveWindows: 2, baseline: null, limit: null },
    });
    expect(decision.numbers.windows.map((window) => window.windowEnd)).toEqual([
      '1970-01-01T01:00:00.000Z',
      '1970-01-01T02:00:00.000Z',
      '1970-01-01T03:00:00.000Z',
    ]);
    expect(decision.details).toEqual([
      'feedback: no labelled predictions, quality rules skipped',
      'golden: no labelled predictions, quality rules skipped',
      'drift: drift in the last 2 windows (2 in a row confirm it)',
    ]);
  });

  it('does not retrain on one drifted window', () => {
    const decision = decide({
      quality: {},
      baseline: undefined,
      chain: [w(60, false), w(120, true)],
      settings,
    });
    expect(decision).toMatchObject({ retrain: false, rule: 'none', source: null, fired: [] });
  });

  it('retrains when an operator asks, after every measured rule', () => {
    const asked = decide({
      requested: true,
      quality: {},
      baseline: undefined,
      chain: [w(60, false)],
      settings,
    });
    expect(asked).toMatchObject({ retrain: true, rule: 'requested', source: 'operator' });
    const both = decide({
      requested: true,
      quality: {},
      baseline: undefined,
      chain: [w(60, true), w(120, true)],
      settings,
    });
    expect(both.fired.map((rule) => rule.rule)).toEqual(['drift-confirmed', 'requested']);
    expect(both.rule).toBe('drift-confirmed');
  });

  it('judges feedback and the golden set apart against the baseline; quality comes before drift', () => {
    const decision = decide({
      quality: {
        feedback: { accuracy: 0.6, macroRecall: 0.55, count: 400 },
        golden: { accuracy: 0.7, macroRecall: 0.7, count: 2000 },
      },
      baseline: { macroRecall: 0.71, accuracy: 0.72 },
      chain: [w(60, true), w(120, true)],
      settings,
    });
    expect(decision.rule).toBe('quality-below-baseline');
    expect(decision.source).toBe('feedback');
    expect(decision.fired.map((fired) => `${fired.rule}/${fired.source}`)).toEqual([
      'quality-below-baseline/feedback',
      'drift-confirmed/drift',
    ]);
    expect(decision.fired[0].reason).toBe(
      'feedback macro recall 0.550 over 400 labels is below baseline 0.710 - 0.05 = 0.660',
    );
    expect(decision.numbers).toMatchObject({
      baseline: 0.71,
      limit: 0.71 - 0.05,
      quality: {
        feedback: { macroRecall: 0.55, count: 400 },
        golden: { macroRecall: 0.7, count: 2000 },
      },
    });
    expect(decision.details).toContain('golden: macroRecall 0.700 is within 0.05 of baseline 0.710');
  });

  it('skips quality rules below the minimum sample count', () => {
    const decision = decide({
      quality: { feedback: { accuracy: 0.1, macroRecall: 0.1, count: 20 } },
      baseline: { macroRecall: 0.7, accuracy: null },
      chain: [],
      settings,
    });
    expect(decision.retrain).toBe(false);
    expect(decision.details[0]).toBe(
      'feedback: quality: 20 labelled predictions, fewer than 100; quality rules skipped',
    );
  });

  it("applies the seed's absolute accuracy floor only when configured", () => {
    const quality = { golden: { accuracy: 0.72, macroRecall: 0.72, count: 2000 } };
    const baseline = { macroRecall: 0.72, accuracy: 0.72 };
    expect(decide({ quality, baseline, chain: [], settings }).retrain).toBe(false);
    const floored = decide({
      quality,
      baseline,
      chain: [],
      settings: { ...settings, absoluteAccuracyFloor: 0.8 },
    });
    expect(floored).toMatchObject({ retrain: true, rule: 'absolute-threshold', source: 'golden' });
    expect(floored.fired[0].reason).toBe('golden accuracy 0.720 over 2000 labels is below the floor 0.8');
  });
});
