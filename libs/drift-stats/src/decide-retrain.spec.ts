import { SEED_ACCURACY_FLOOR, decideRetrain } from './decide-retrain';

// The real model's published TweetEval figures (MODEL_FACTS.md): validation accuracy 0.7715, test accuracy
// 0.7220; macro recall is not published for -latest, so the values below are stand-ins near TimeLMs' 0.737.
const validation = { accuracy: 0.7715, macroRecall: 0.76 };
const onTest = { accuracy: 0.722, macroRecall: 0.737, count: 12_284 };

describe('decideRetrain', () => {
  it('does nothing when quality holds and drift is not confirmed', () => {
    const decision = decideRetrain({ quality: onTest, baseline: validation, driftHistory: [false, true] });
    expect(decision).toMatchObject({ retrain: false, rule: 'none', fired: [] });
    expect(decision.details).toEqual([
      'macroRecall 0.737 is within 0.05 of baseline 0.760',
      'drift in the last 1 windows, 2 in a row needed',
    ]);
  });

  it('retrains when the chosen metric falls below the baseline minus the tolerance', () => {
    const worse = { accuracy: 0.74, macroRecall: 0.69, count: 500 };
    const decision = decideRetrain({ quality: worse, baseline: validation });
    expect(decision).toMatchObject({ retrain: true, rule: 'quality-below-baseline' });
    expect(decision.details[0]).toBe('macroRecall 0.690 is below baseline 0.760 - 0.05 = 0.710');
    // The metric and the tolerance are configurable.
    expect(decideRetrain({ quality: worse, baseline: validation, metric: 'accuracy' }).retrain).toBe(false);
    expect(decideRetrain({ quality: worse, baseline: validation, tolerance: 0.1 }).retrain).toBe(false);
  });

  it("keeps the seed's absolute accuracy rule as an opt-in, which fires on the real model's own test score", () => {
    expect(decideRetrain({ quality: onTest, baseline: validation }).retrain).toBe(false);
    const seedRule = decideRetrain({
      quality: onTest,
      baseline: validation,
      absoluteAccuracyFloor: SEED_ACCURACY_FLOOR,
    });
    expect(seedRule).toMatchObject({ retrain: true, rule: 'absolute-threshold' });
    expect(seedRule.details).toContain('accuracy 0.722 is below the absolute floor 0.8');
  });

  it('confirms drift only over consecutive windows ending now', () => {
    expect(decideRetrain({ driftHistory: [false, true, true] })).toMatchObject({
      retrain: true,
      rule: 'drift-confirmed',
    });
    expect(decideRetrain({ driftHistory: [true, true, false] }).retrain).toBe(false);
    expect(decideRetrain({ driftHistory: [true, false, true] }).retrain).toBe(false);
    expect(decideRetrain({ driftHistory: [false, true, true], consecutiveWindows: 3 }).retrain).toBe(false);
    expect(decideRetrain({ driftHistory: [{ drifted: true }], consecutiveWindows: 1 }).retrain).toBe(true);
    expect(() => decideRetrain({ consecutiveWindows: 0 })).toThrow(RangeError);
  });

  it('skips quality rules without enough labels or a baseline', () => {
    const few = decideRetrain({
      quality: { accuracy: 0.1, macroRecall: 0.1, count: 40 },
      baseline: validation,
    });
    expect(few.retrain).toBe(false);
    expect(few.details[0]).toBe('quality: 40 labelled predictions, fewer than 100; quality rules skipped');
    expect(decideRetrain({ quality: onTest }).details[0]).toMatch(/no baseline/);
    expect(decideRetrain({}).details[0]).toMatch(/no labelled predictions/);
  });

  it('names the first rule that fired and lists them all', () => {
    const decision = decideRetrain({
      quality: { accuracy: 0.5, macroRecall: 0.5, count: 1000 },
      baseline: validation,
      absoluteAccuracyFloor: 0.8,
      driftHistory: [true, true],
    });
    expect(decision.rule).toBe('quality-below-baseline');
    expect(decision.fired).toEqual(['quality-below-baseline', 'absolute-threshold', 'drift-confirmed']);
  });
});
