import { decideRetrain } from './decide-retrain';
import { buildProfile, compareToProfile } from './profile';
import {
  DetectionSummary,
  REFERENCE_DISTRIBUTION,
  SHIFT_SCENARIOS,
  formatDetectionSummary,
  measureDetection,
  syntheticSample,
  syntheticSamples,
} from './simulation';
import { jensenShannonDistance } from './statistical-tests';
import { seededRandom } from './random';

describe('synthetic prediction streams', () => {
  it('are reproducible and look like the documented reference', () => {
    expect(syntheticSamples(REFERENCE_DISTRIBUTION, 50, 9)).toEqual(
      syntheticSamples(REFERENCE_DISTRIBUTION, 50, 9),
    );
    const samples = syntheticSamples(REFERENCE_DISTRIBUTION, 20_000, 4);
    const confidence = samples.map((s) => Math.max(s.scores.negative, s.scores.neutral, s.scores.positive));
    const meanConfidence = confidence.reduce((a, b) => a + b, 0) / samples.length;
    expect(meanConfidence).toBeGreaterThan(0.8);
    expect(meanConfidence).toBeLessThan(0.9);
    const tokens = samples.map((s) => s.tokens).sort((a, b) => a - b);
    expect(tokens[samples.length / 2]).toBe(27);
    const truncated = samples.filter((s) => s.truncated).length / samples.length;
    expect(truncated).toBeGreaterThan(0.001);
    expect(truncated).toBeLessThan(0.004);
    const mix = SHIFT_SCENARIOS['label-mix'].labelMix;
    if (!mix) throw new Error('label-mix scenario has no mix');
    const distance = jensenShannonDistance(
      Object.values(REFERENCE_DISTRIBUTION.labelMix),
      Object.values(mix),
    );
    expect(distance).toBeCloseTo(0.226, 3);
  });

  it('make valid samples for every scenario', () => {
    const random = seededRandom(5);
    for (const shift of Object.values(SHIFT_SCENARIOS)) {
      const s = syntheticSample(random, { ...REFERENCE_DISTRIBUTION, ...shift });
      expect(s.scores.negative + s.scores.neutral + s.scores.positive).toBeCloseTo(1, 12);
      expect(s.tokens).toBeGreaterThanOrEqual(3);
    }
  });
});

describe('detection of injected shifts', () => {
  let summary: DetectionSummary;

  beforeAll(() => {
    // Windows of 500; each shift starts halfway through window 8, so window 8 is half shifted;
    // 600 clean windows over 6 independently drawn references for the false-alarm rate.
    summary = measureDetection({ seed: 1 });
    console.log(`drift detection on synthetic streams\n${formatDetectionSummary(summary)}`);
  });

  it.each([
    ['label-mix', 'labelMix'],
    ['confidence', 'confidence'],
    ['length', 'tokens'],
  ])('flags the %s shift within one window of its start, by the %s statistic', (scenario, statistic) => {
    const outcome = summary.scenarios.find((s) => s.scenario === scenario);
    expect(outcome?.delayWindows).not.toBeNull();
    expect(outcome?.delayWindows).toBeLessThanOrEqual(1);
    expect(outcome?.flagged).toContain(statistic);
    expect(outcome?.alarmsBeforeShift).toBe(0);
  });

  it('raises at most 1 % false alarms over clean windows', () => {
    expect(summary.falseAlarms.windows).toBeGreaterThanOrEqual(100);
    expect(summary.falseAlarms.rate).toBeLessThanOrEqual(0.01);
  });

  it('turns a shift into a retrain decision after two drifted windows', () => {
    const profile = buildProfile(syntheticSamples(REFERENCE_DISTRIBUTION, 10_000, 21));
    const shifted = { ...REFERENCE_DISTRIBUTION, ...SHIFT_SCENARIOS.length };
    const history: boolean[] = [];
    const decisions = [0, 1, 2, 3, 4].map((w) => {
      const window = syntheticSamples(w < 3 ? REFERENCE_DISTRIBUTION : shifted, 500, 100 + w);
      history.push(compareToProfile(profile, window).drifted);
      return decideRetrain({ driftHistory: history }).retrain;
    });
    expect(decisions).toEqual([false, false, false, false, true]);
  });
});
