import {
  CandidateMode,
  FeedbackRecord,
  ModelAssignment,
  SENTIMENT_LABELS,
  SentimentLabel,
  StreamPrediction,
} from '@reputation-monitor/contracts';
import { pairedMacroRecallTest, qualityMetrics } from '@reputation-monitor/drift-stats';

/**
 * The candidate model against production on the same texts. While a candidate is assigned, the workers
 * score a share of jobs with both versions under the same prediction ids: in shadow mode production answers
 * and the candidate's prediction is written with role `shadow`; in canary mode the candidate answers (role
 * `canary`) and production's prediction is the shadow. A pair is one answered prediction and one shadow
 * prediction of the same id by two versions; feedback labels (given for what the client got) label both.
 *
 * The verdict asks one question, "is production better than the candidate?": the paired sign-flip test of
 * macro recall (the gate's test) with the candidate on the champion side and alternative 'greater'. The
 * opposite direction is reported beside it, never judged on (promotion is the gate's decision).
 */

/** One text scored by both versions. */
export interface PredictionPair {
  id: string;
  mode: CandidateMode;
  productionVersion: string;
  candidateVersion: string;
  production: SentimentLabel;
  candidate: SentimentLabel;
}

export interface Pairing {
  pairs: PredictionPair[];
  /** Shadow predictions (by id) whose answered twin is not in the window, or is by the same version. */
  unpaired: number;
}

/** The model assignment as the run found it in Redis. */
export interface AssignmentView {
  assignment: ModelAssignment | undefined;
  /** Why the record in Redis could not be decoded (it is then ignored). */
  invalid?: string;
  /** Registry id -> the model version the workers report serving it as (their status reports). */
  servedAs: Record<string, string>;
}

export interface CandidateSettings {
  /** CANDIDATE_ALPHA: "production is better" at p below this makes the candidate worse. */
  alpha: number;
  /** MIN_QUALITY_SAMPLES: labelled pairs needed for a verdict. */
  minLabelled: number;
  /** Monte Carlo draws of the permutation test (its default when unset). */
  permutations?: number;
}

export interface PairQuality {
  accuracy: number;
  macroRecall: number;
  macroF1: number;
}

export interface CandidateTest {
  /** Labelled pairs compared. */
  count: number;
  productionMacroRecall: number;
  candidateMacroRecall: number;
  /** productionMacroRecall − candidateMacroRecall: positive when production is better. */
  difference: number;
  /** Paired sign-flip test, H1 "production's macro recall is higher": the verdict's p-value. */
  pProductionBetter: number;
  /** The same test the other way round, H1 "the candidate's is higher"; reported, never judged on. */
  pCandidateBetter: number;
  method: 'exact' | 'monte-carlo';
  /** Labelled pairs on which exactly one version is right (only these move the statistic). */
  discordant: number;
}

export interface CandidateSection {
  /** no_pairs: nothing to compare; insufficient: fewer labelled pairs than minLabelled; tested: a verdict. */
  status: 'no_pairs' | 'insufficient' | 'tested';
  /** The candidate's model version (as the stream names it). */
  version: string;
  /** The version it is compared with. */
  productionVersion: string | null;
  mode: CandidateMode;
  /** The assignment's share of jobs routed to the candidate; null when no assignment names this candidate. */
  share: number | null;
  /** The assignment record the run read (registry ids); null when there is none. */
  assignment: { revision: number; productionId: string; candidateId: string | null } | null;
  pairs: number;
  unpaired: number;
  /** Share of pairs on which both versions gave the same label; null without pairs. */
  agreement: number | null;
  /** Pairs with a feedback label. */
  labelled: number;
  /** Both versions on the labelled pairs; null without labels. */
  quality: { production: PairQuality | null; candidate: PairQuality | null };
  test: CandidateTest | null;
  alpha: number;
  minLabelled: number;
  /** Production is better at p < alpha, over at least minLabelled labelled pairs. */
  worse: boolean;
  reasons: string[];
}

/** Pairs each shadow prediction with the answered prediction of the same id (the latest of each, by stream order). */
export function pairPredictions(
  answered: readonly StreamPrediction[],
  shadow: readonly StreamPrediction[],
): Pairing {
  // A job retried after a worker died writes its predictions again: one pair per id.
  const shadowById = new Map<string, StreamPrediction>();
  let unpaired = 0;
  for (const prediction of shadow) {
    if (prediction.id === '') unpaired += 1;
    else shadowById.set(prediction.id, prediction);
  }
  const answeredById = new Map<string, StreamPrediction>();
  for (const prediction of answered)
    if (shadowById.has(prediction.id)) answeredById.set(prediction.id, prediction);
  const pairs: PredictionPair[] = [];
  for (const [id, twin] of shadowById) {
    const answer = answeredById.get(id);
    if (!answer || answer.version === twin.version) {
      unpaired += 1;
      continue;
    }
    // Canary: the candidate answered and production scored beside it; shadow: the other way round.
    const canary = answer.role === 'canary';
    const [production, candidate] = canary ? [twin, answer] : [answer, twin];
    pairs.push({
      id,
      mode: canary ? 'canary' : 'shadow',
      productionVersion: production.version,
      candidateVersion: candidate.version,
      production: production.label,
      candidate: candidate.label,
    });
  }
  return { pairs, unpaired };
}

export interface CandidateInput {
  /** The window's traffic (production and canary predictions). */
  answered: readonly StreamPrediction[];
  shadow: readonly StreamPrediction[];
  feedback: readonly FeedbackRecord[];
  assignment: AssignmentView;
  /** The version the run evaluates (production, by traffic), for a section without pairs. */
  evaluatedVersion: string | null;
  settings: CandidateSettings;
}

const f3 = (x: number) => x.toFixed(3);
const formatP = (p: number) => (p < 0.001 ? p.toExponential(1) : p.toFixed(3));

/**
 * The report's candidate section: present when the assignment names a candidate or the window holds
 * shadow predictions. With pairs of several candidates in one window (the assignment changed), the
 * assigned candidate's pairs are compared, else the most numerous.
 */
export function compareCandidate(input: CandidateInput): CandidateSection | undefined {
  const { settings } = input;
  const { assignment, invalid, servedAs } = input.assignment;
  const assigned = assignment?.candidate;
  if (!assigned && input.shadow.length === 0) return undefined;

  const reasons: string[] = [];
  if (invalid) reasons.push(`the model assignment in Redis is unreadable (${invalid}): ignored`);
  const pairing = pairPredictions(input.answered, input.shadow);
  const groups = groupPairs(pairing.pairs);
  const assignedVersion = assigned ? (servedAs[assigned.version.id] ?? assigned.version.id) : undefined;
  const group = groups.find((g) => g.candidateVersion === assignedVersion) ?? groups[0];
  // Without the workers' status the stream's version cannot be matched to the registry id: assume it is the one.
  const sameAsAssigned =
    assigned !== undefined &&
    (group === undefined ||
      group.candidateVersion === assignedVersion ||
      servedAs[assigned.version.id] === undefined);
  if (assigned && group && !sameAsAssigned)
    reasons.push(
      `the window's pairs are of ${group.candidateVersion}, not of the assigned candidate ${assignedVersion} ` +
        '(the assignment changed during the window?)',
    );
  for (const other of groups.filter((g) => g !== group))
    reasons.push(`left out: ${other.pairs.length} pairs of ${other.candidateVersion} (${other.mode})`);

  const pairs = group?.pairs ?? [];
  const labels = new Map(input.feedback.map((record) => [record.id, record.label]));
  const labelled = pairs.flatMap((pair) => {
    const truth = labels.get(pair.id);
    return truth === undefined ? [] : [{ ...pair, truth }];
  });

  const section: CandidateSection = {
    status: 'no_pairs',
    version:
      group?.candidateVersion ??
      assignedVersion ??
      mostCommon(input.shadow.map((p) => p.version)) ??
      'unknown',
    productionVersion:
      group?.productionVersion ??
      (assignment ? servedAs[assignment.production.id] : undefined) ??
      input.evaluatedVersion,
    mode: group?.mode ?? assigned?.mode ?? 'shadow',
    share: sameAsAssigned && assigned ? assigned.share : null,
    assignment: assignment
      ? {
          revision: assignment.revision,
          productionId: assignment.production.id,
          candidateId: assigned?.version.id ?? null,
        }
      : null,
    pairs: pairs.length,
    unpaired: pairing.unpaired,
    agreement:
      pairs.length === 0
        ? null
        : pairs.filter((pair) => pair.production === pair.candidate).length / pairs.length,
    labelled: labelled.length,
    quality: { production: null, candidate: null },
    test: null,
    alpha: settings.alpha,
    minLabelled: settings.minLabelled,
    worse: false,
    reasons,
  };
  if (pairs.length === 0) {
    reasons.push(
      input.shadow.length === 0
        ? `no shadow predictions in the window: the candidate scored nothing yet`
        : `${input.shadow.length} shadow predictions, none with an answered twin in the window`,
    );
    return section;
  }
  if (pairing.unpaired > 0)
    reasons.push(`${pairing.unpaired} shadow predictions without an answered twin in the window`);
  if (labelled.length === 0) {
    section.status = 'insufficient';
    reasons.push(`none of the ${pairs.length} pairs has a feedback label: no verdict`);
    return section;
  }

  const truth = labelled.map((pair) => pair.truth);
  const production = labelled.map((pair) => pair.production);
  const candidate = labelled.map((pair) => pair.candidate);
  section.quality = { production: pairQuality(truth, production), candidate: pairQuality(truth, candidate) };
  const index = (label: SentimentLabel) => SENTIMENT_LABELS.indexOf(label);
  const options = { alternative: 'greater' as const, permutations: settings.permutations };
  // The candidate on the champion side: a small p says production's macro recall is really higher.
  const productionBetter = pairedMacroRecallTest(
    { truth: truth.map(index), champion: candidate.map(index), candidate: production.map(index) },
    options,
  );
  const candidateBetter = pairedMacroRecallTest(
    { truth: truth.map(index), champion: production.map(index), candidate: candidate.map(index) },
    options,
  );
  const test: CandidateTest = {
    count: productionBetter.count,
    productionMacroRecall: productionBetter.candidateMacroRecall,
    candidateMacroRecall: productionBetter.championMacroRecall,
    difference: productionBetter.difference,
    pProductionBetter: productionBetter.pValue,
    pCandidateBetter: candidateBetter.pValue,
    method: productionBetter.method,
    discordant: productionBetter.discordant,
  };
  section.test = test;

  const figures =
    `production macro recall ${f3(test.productionMacroRecall)} vs candidate ${f3(test.candidateMacroRecall)} ` +
    `on ${labelled.length} labelled pairs`;
  if (labelled.length < settings.minLabelled) {
    section.status = 'insufficient';
    reasons.push(
      `${figures}: fewer than ${settings.minLabelled} labelled pairs (MIN_QUALITY_SAMPLES), no verdict`,
    );
    return section;
  }
  section.status = 'tested';
  section.worse = test.pProductionBetter < settings.alpha;
  reasons.push(
    section.worse
      ? `${figures}: production is better, paired sign-flip p = ${formatP(test.pProductionBetter)} < ${settings.alpha} (CANDIDATE_ALPHA)`
      : `${figures}: production is not shown better, p = ${formatP(test.pProductionBetter)} >= ${settings.alpha} (CANDIDATE_ALPHA)`,
  );
  if (test.pCandidateBetter < settings.alpha)
    reasons.push(
      `the candidate is better at p = ${formatP(test.pCandidateBetter)} (promotion is still the gate's decision)`,
    );
  return section;
}

interface PairGroup {
  candidateVersion: string;
  productionVersion: string;
  mode: CandidateMode;
  pairs: PredictionPair[];
}

/** Pairs by (candidate, production, mode), most numerous first (ties: first seen). */
function groupPairs(pairs: readonly PredictionPair[]): PairGroup[] {
  const groups = new Map<string, PairGroup>();
  for (const pair of pairs) {
    const key = JSON.stringify([pair.candidateVersion, pair.productionVersion, pair.mode]);
    let group = groups.get(key);
    if (!group) {
      group = {
        candidateVersion: pair.candidateVersion,
        productionVersion: pair.productionVersion,
        mode: pair.mode,
        pairs: [],
      };
      groups.set(key, group);
    }
    group.pairs.push(pair);
  }
  return [...groups.values()].sort((a, b) => b.pairs.length - a.pairs.length);
}

function pairQuality(truth: readonly SentimentLabel[], predicted: readonly SentimentLabel[]): PairQuality {
  const metrics = qualityMetrics(truth.map((label, i) => ({ truth: label, predicted: predicted[i] })));
  return { accuracy: metrics.accuracy, macroRecall: metrics.macroRecall, macroF1: metrics.macroF1 };
}

function mostCommon(values: readonly string[]): string | undefined {
  const counts = new Map<string, number>();
  let best: string | undefined;
  for (const value of values) {
    const count = (counts.get(value) ?? 0) + 1;
    counts.set(value, count);
    if (best === undefined || count > (counts.get(best) ?? 0)) best = value;
  }
  return best;
}

export type CandidateQualityMetric = 'accuracy' | 'macro_recall' | 'macro_f1';

export interface CandidateQualityRow {
  role: 'production' | 'candidate';
  metric: CandidateQualityMetric;
  value: number;
}

/** The section's quality figures, one row per version and metric (for the metrics). */
export function candidateQualityRows(section: CandidateSection): CandidateQualityRow[] {
  const rows: CandidateQualityRow[] = [];
  for (const role of ['production', 'candidate'] as const) {
    const quality = section.quality[role];
    if (!quality) continue;
    rows.push(
      { role, metric: 'accuracy', value: quality.accuracy },
      { role, metric: 'macro_recall', value: quality.macroRecall },
      { role, metric: 'macro_f1', value: quality.macroF1 },
    );
  }
  return rows;
}
