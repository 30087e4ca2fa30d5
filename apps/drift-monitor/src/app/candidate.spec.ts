import type {
  FeedbackRecord,
  ModelAssignment,
  ModelRole,
  SentimentLabel,
  StreamPrediction,
} from '@reputation-monitor/contracts';
import {
  AssignmentView,
  CandidateSettings,
  candidateQualityRows,
  compareCandidate,
  pairPredictions,
} from './candidate';

const LABELS: readonly SentimentLabel[] = ['negative', 'neutral', 'positive'];
let clock = 0;

function prediction(id: string, label: SentimentLabel, version: string, role: ModelRole): StreamPrediction {
  clock += 1;
  return {
    streamAt: clock,
    id,
    label,
    scores: { negative: 0.2, neutral: 0.2, positive: 0.2, [label]: 0.6 },
    tokens: 12,
    truncated: false,
    model: 'tiny',
    version,
    source: 'twitter',
    role,
  };
}

function feedback(id: string, label: SentimentLabel): FeedbackRecord {
  return { id, label, predicted: label, modelVersion: 'prod-1', predictedAt: 0, at: 1 };
}

function assignment(candidate?: ModelAssignment['candidate']): ModelAssignment {
  return {
    revision: 7,
    production: { id: 'prod-dir', location: '/models/prod' },
    ...(candidate && { candidate }),
    change: { action: 'set-candidate', actor: 'cli:ops', reason: 'try it', at: '2025-01-02T00:00:00Z' },
  };
}

const SHADOW_CANDIDATE: ModelAssignment['candidate'] = {
  version: { id: 'cand-dir', location: '/models/cand' },
  mode: 'shadow',
  share: 0.25,
};
const NO_ASSIGNMENT: AssignmentView = { assignment: undefined, servedAs: {} };
const SETTINGS: CandidateSettings = { alpha: 0.01, minLabelled: 30 };

/**
 * `count` texts scored by production and by the candidate in shadow mode, each labelled with its truth:
 * production is right on every text, the candidate on the share `candidateRight` of them (wrong ones
 * shifted by one class), so the candidate's recall falls evenly across classes.
 */
function shadowWindow(count: number, candidateRight: number, mode: 'shadow' | 'canary' = 'shadow') {
  const answered: StreamPrediction[] = [];
  const shadow: StreamPrediction[] = [];
  const labels: FeedbackRecord[] = [];
  for (let i = 0; i < count; i++) {
    const truth = LABELS[i % 3];
    const right = i % 3 === 0 || Math.floor(i / 3) / Math.ceil(count / 3) < candidateRight;
    const candidateLabel = right ? truth : LABELS[(i + 1) % 3];
    const id = `p-${i}`;
    if (mode === 'shadow') {
      answered.push(prediction(id, truth, 'prod-1', 'production'));
      shadow.push(prediction(id, candidateLabel, 'cand-1', 'shadow'));
    } else {
      answered.push(prediction(id, candidateLabel, 'cand-1', 'canary'));
      shadow.push(prediction(id, truth, 'prod-1', 'shadow'));
    }
    labels.push(feedback(id, truth));
  }
  return { answered, shadow, feedback: labels };
}

describe('pairPredictions', () => {
  it('pairs a shadow prediction with the answered one of the same id, whichever version answered', () => {
    const answered = [
      prediction('a', 'positive', 'prod-1', 'production'),
      prediction('b', 'negative', 'cand-1', 'canary'),
      prediction('c', 'neutral', 'prod-1', 'production'),
    ];
    const shadow = [
      prediction('a', 'neutral', 'cand-1', 'shadow'),
      prediction('b', 'positive', 'prod-1', 'shadow'),
    ];
    expect(pairPredictions(answered, shadow)).toEqual({
      pairs: [
        {
          id: 'a',
          mode: 'shadow',
          productionVersion: 'prod-1',
          candidateVersion: 'cand-1',
          production: 'positive',
          candidate: 'neutral',
        },
        {
          id: 'b',
          mode: 'canary',
          productionVersion: 'prod-1',
          candidateVersion: 'cand-1',
          production: 'positive',
          candidate: 'negative',
        },
      ],
      unpaired: 0,
    });
  });

  it('counts shadow predictions without a twin, by the same version, or without an id; one pair per retried id', () => {
    const answered = [
      prediction('a', 'positive', 'prod-1', 'production'),
      prediction('same', 'positive', 'cand-1', 'production'),
      prediction('a', 'negative', 'prod-1', 'production'), // the job ran again after a worker died
    ];
    const shadow = [
      prediction('a', 'positive', 'cand-1', 'shadow'),
      prediction('a', 'negative', 'cand-1', 'shadow'),
      prediction('lonely', 'neutral', 'cand-1', 'shadow'),
      prediction('same', 'neutral', 'cand-1', 'shadow'),
      prediction('', 'neutral', 'cand-1', 'shadow'),
    ];
    const { pairs, unpaired } = pairPredictions(answered, shadow);
    expect(pairs).toEqual([
      expect.objectContaining({ id: 'a', production: 'negative', candidate: 'negative' }),
    ]);
    expect(unpaired).toBe(3);
  });
});

describe('compareCandidate', () => {
  it('is absent without an assigned candidate and without shadow predictions', () => {
    const answered = [prediction('a', 'positive', 'prod-1', 'production')];
    expect(
      compareCandidate({
        answered,
        shadow: [],
        feedback: [],
        assignment: { assignment: assignment(), servedAs: {} },
        evaluatedVersion: 'prod-1',
        settings: SETTINGS,
      }),
    ).toBeUndefined();
  });

  it('reports an assigned candidate that has scored nothing yet, with the versions the workers serve', () => {
    const section = compareCandidate({
      answered: [prediction('a', 'positive', 'prod-1', 'production')],
      shadow: [],
      feedback: [],
      assignment: {
        assignment: assignment(SHADOW_CANDIDATE),
        servedAs: { 'prod-dir': 'prod-1', 'cand-dir': 'cand-1' },
      },
      evaluatedVersion: 'prod-1',
      settings: SETTINGS,
    });
    expect(section).toEqual({
      status: 'no_pairs',
      version: 'cand-1',
      productionVersion: 'prod-1',
      mode: 'shadow',
      share: 0.25,
      assignment: { revision: 7, productionId: 'prod-dir', candidateId: 'cand-dir' },
      pairs: 0,
      unpaired: 0,
      agreement: null,
      labelled: 0,
      quality: { production: null, candidate: null },
      test: null,
      alpha: 0.01,
      minLabelled: 30,
      worse: false,
      reasons: ['no shadow predictions in the window: the candidate scored nothing yet'],
    });
  });

  it('calls a candidate worse when production is better on enough labelled pairs (p < alpha)', () => {
    const window = shadowWindow(90, 0.3);
    const section = compareCandidate({
      ...window,
      assignment: { assignment: assignment(SHADOW_CANDIDATE), servedAs: {} },
      evaluatedVersion: 'prod-1',
      settings: SETTINGS,
    });
    expect(section).toMatchObject({
      status: 'tested',
      version: 'cand-1',
      productionVersion: 'prod-1',
      mode: 'shadow',
      // No worker status: the stream's version is taken to be the assigned candidate.
      share: 0.25,
      pairs: 90,
      labelled: 90,
      quality: { production: { accuracy: 1, macroRecall: 1, macroF1: 1 } },
      worse: true,
    });
    const test = section?.test;
    expect(test?.productionMacroRecall).toBe(1);
    expect(test?.candidateMacroRecall).toBeCloseTo(section?.quality.candidate?.macroRecall as number, 12);
    expect(test?.difference).toBeGreaterThan(0.4);
    expect(test?.pProductionBetter).toBeLessThan(0.001);
    expect(test?.pCandidateBetter).toBe(1);
    expect(section?.agreement).toBeCloseTo(section?.quality.candidate?.accuracy as number, 12);
    expect(section?.reasons.at(-1)).toMatch(
      /^production macro recall 1\.000 vs candidate 0\.\d{3} on 90 labelled pairs: production is better, paired sign-flip p = .* < 0\.01 \(CANDIDATE_ALPHA\)$/,
    );
  });

  it('finds a canary candidate worse the same way: the roles say which side is which', () => {
    const section = compareCandidate({
      ...shadowWindow(90, 0.3, 'canary'),
      assignment: NO_ASSIGNMENT,
      evaluatedVersion: 'prod-1',
      settings: SETTINGS,
    });
    expect(section).toMatchObject({
      status: 'tested',
      version: 'cand-1',
      productionVersion: 'prod-1',
      mode: 'canary',
      share: null,
      assignment: null,
      worse: true,
    });
  });

  it('does not call an agreeing candidate worse', () => {
    const section = compareCandidate({
      ...shadowWindow(60, 1),
      assignment: NO_ASSIGNMENT,
      evaluatedVersion: 'prod-1',
      settings: SETTINGS,
    });
    expect(section).toMatchObject({
      status: 'tested',
      agreement: 1,
      labelled: 60,
      worse: false,
      test: { difference: 0, discordant: 0, pProductionBetter: 1, pCandidateBetter: 1, method: 'exact' },
    });
    expect(section?.quality.candidate).toEqual(section?.quality.production);
    expect(section?.reasons).toEqual([
      'production macro recall 1.000 vs candidate 1.000 on 60 labelled pairs: production is not shown better, p = 1.000 >= 0.01 (CANDIDATE_ALPHA)',
    ]);
  });

  it('gives no verdict below MIN_QUALITY_SAMPLES labelled pairs, but still measures and tests them', () => {
    const window = shadowWindow(90, 0.3);
    const section = compareCandidate({
      ...window,
      feedback: window.feedback.slice(0, 20),
      assignment: NO_ASSIGNMENT,
      evaluatedVersion: 'prod-1',
      settings: SETTINGS,
    });
    expect(section).toMatchObject({ status: 'insufficient', pairs: 90, labelled: 20, worse: false });
    expect(section?.test?.count).toBe(20);
    expect(section?.reasons.at(-1)).toMatch(
      /fewer than 30 labelled pairs \(MIN_QUALITY_SAMPLES\), no verdict$/,
    );

    const unlabelled = compareCandidate({
      ...window,
      feedback: [],
      assignment: NO_ASSIGNMENT,
      evaluatedVersion: 'prod-1',
      settings: SETTINGS,
    });
    expect(unlabelled).toMatchObject({ status: 'insufficient', labelled: 0, test: null, worse: false });
    expect(unlabelled?.quality).toEqual({ production: null, candidate: null });
    expect(unlabelled?.reasons).toEqual(['none of the 90 pairs has a feedback label: no verdict']);
  });

  it('reports a better candidate beside the verdict without calling it worse', () => {
    // Swap the roles of shadowWindow: the shadow candidate is always right, production often wrong.
    const window = shadowWindow(90, 0.3);
    const section = compareCandidate({
      answered: window.shadow.map((p) => ({ ...p, version: 'prod-1', role: 'production' as const })),
      shadow: window.answered.map((p) => ({ ...p, version: 'cand-1', role: 'shadow' as const })),
      feedback: window.feedback,
      assignment: NO_ASSIGNMENT,
      evaluatedVersion: 'prod-1',
      settings: SETTINGS,
    });
    expect(section?.worse).toBe(false);
    expect(section?.test?.difference).toBeLessThan(-0.4);
    expect(section?.test?.pCandidateBetter).toBeLessThan(0.001);
    expect(section?.reasons.at(-1)).toMatch(
      /^the candidate is better at p = .* \(promotion is still the gate's decision\)$/,
    );
  });

  it("compares the assigned candidate's pairs when the window holds two candidates, and says so", () => {
    const first = shadowWindow(30, 1);
    const second = shadowWindow(12, 1);
    const shadow = [
      ...first.shadow,
      ...second.shadow.map((p) => ({ ...p, id: `x-${p.id}`, version: 'cand-2' })),
    ];
    const answered = [...first.answered, ...second.answered.map((p) => ({ ...p, id: `x-${p.id}` }))];
    const section = compareCandidate({
      answered,
      shadow,
      feedback: [],
      assignment: {
        assignment: assignment({ ...SHADOW_CANDIDATE, version: { id: 'cand-dir-2', location: '/m/2' } }),
        servedAs: { 'cand-dir-2': 'cand-2' },
      },
      evaluatedVersion: 'prod-1',
      settings: SETTINGS,
    });
    expect(section).toMatchObject({ version: 'cand-2', pairs: 12, share: 0.25 });
    expect(section?.reasons[0]).toBe('left out: 30 pairs of cand-1 (shadow)');

    const stale = compareCandidate({
      answered: first.answered,
      shadow: first.shadow,
      feedback: [],
      assignment: {
        assignment: assignment({ ...SHADOW_CANDIDATE, version: { id: 'cand-dir-2', location: '/m/2' } }),
        servedAs: { 'cand-dir-2': 'cand-2' },
      },
      evaluatedVersion: 'prod-1',
      settings: SETTINGS,
    });
    expect(stale).toMatchObject({ version: 'cand-1', share: null });
    expect(stale?.reasons[0]).toBe(
      "the window's pairs are of cand-1, not of the assigned candidate cand-2 (the assignment changed during the window?)",
    );
  });

  it('reports shadow predictions without twins, and an unreadable assignment', () => {
    const section = compareCandidate({
      answered: [],
      shadow: [
        prediction('a', 'neutral', 'cand-1', 'shadow'),
        prediction('b', 'neutral', 'cand-1', 'shadow'),
      ],
      feedback: [],
      assignment: { assignment: undefined, invalid: 'not JSON', servedAs: {} },
      evaluatedVersion: null,
      settings: SETTINGS,
    });
    expect(section).toMatchObject({
      status: 'no_pairs',
      version: 'cand-1',
      productionVersion: null,
      mode: 'shadow',
      unpaired: 2,
      worse: false,
    });
    expect(section?.reasons).toEqual([
      'the model assignment in Redis is unreadable (not JSON): ignored',
      '2 shadow predictions, none with an answered twin in the window',
    ]);
  });
});

describe('candidateQualityRows', () => {
  it('lists both versions by metric, nothing without labels', () => {
    const section = compareCandidate({
      ...shadowWindow(30, 1),
      assignment: NO_ASSIGNMENT,
      evaluatedVersion: 'prod-1',
      settings: SETTINGS,
    });
    expect(candidateQualityRows(section as never)).toEqual([
      { role: 'production', metric: 'accuracy', value: 1 },
      { role: 'production', metric: 'macro_recall', value: 1 },
      { role: 'production', metric: 'macro_f1', value: 1 },
      { role: 'candidate', metric: 'accuracy', value: 1 },
      { role: 'candidate', metric: 'macro_recall', value: 1 },
      { role: 'candidate', metric: 'macro_f1', value: 1 },
    ]);
    expect(candidateQualityRows({ quality: { production: null, candidate: null } } as never)).toEqual([]);
  });
});
