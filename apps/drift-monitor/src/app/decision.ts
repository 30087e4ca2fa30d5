import { QualitySummary, RetrainRule, decideRetrain } from '@reputation-monitor/drift-stats';

/** One evaluated window's verdict, as kept per model version. */
export interface DriftHistoryEntry {
  reportId: string;
  /** ms since epoch, inclusive. */
  windowStart: number;
  /** ms since epoch, exclusive. */
  windowEnd: number;
  drifted: boolean;
}

/**
 * The windows that count as "consecutive" for the drift rule, oldest first and ending with `current`:
 * walking back from the current window, each earlier window must end no later than the start of the one
 * after it (so no two share a prediction; with the default 60-minute window every 15 minutes, the chain is
 * the windows 60 minutes apart) and no more than one window length before it (a longer gap, e.g. the
 * monitor was down, breaks the chain). Windows after `current` are ignored, so re-evaluating an old window
 * sees only what came before it.
 */
export function consecutiveWindows(
  history: readonly DriftHistoryEntry[],
  current: DriftHistoryEntry,
  limit = Infinity,
): DriftHistoryEntry[] {
  const earlier = history
    .filter((entry) => entry.windowEnd < current.windowEnd)
    .sort((a, b) => b.windowEnd - a.windowEnd);
  const chain = [current];
  let last = current;
  for (const entry of earlier) {
    if (chain.length >= limit) break;
    if (entry.windowEnd > last.windowStart) continue; // overlaps the later window
    const gapLimit = last.windowEnd - last.windowStart;
    if (last.windowStart - entry.windowEnd > gapLimit) break;
    chain.push(entry);
    last = entry;
  }
  return chain.reverse();
}

/** Drifted windows in a row at the end of a chain. */
export function driftStreak(chain: readonly DriftHistoryEntry[]): number {
  let streak = 0;
  for (let i = chain.length - 1; i >= 0 && chain[i].drifted; i--) streak++;
  return streak;
}

export type QualitySource = 'feedback' | 'golden';

export interface DecisionSettings {
  tolerance: number;
  minQualitySamples: number;
  absoluteAccuracyFloor: number | undefined;
  consecutiveWindows: number;
}

export interface Baseline {
  macroRecall: number;
  /** Known when the baseline came from a golden-set run. */
  accuracy: number | null;
}

export interface DecisionInput {
  /** An operator asked for a retrain; it fires after every measured rule. */
  requested?: boolean;
  quality: Partial<Record<QualitySource, QualitySummary>>;
  baseline: Baseline | undefined;
  /** From `consecutiveWindows`, oldest first, ending with this run's window. */
  chain: readonly DriftHistoryEntry[];
  settings: DecisionSettings;
}

/** The measured rules, and `requested`: an operator asked (POST /v1/runs with retrain: true). */
export type DecisionRule = Exclude<RetrainRule, 'none'> | 'requested';

export interface FiredRule {
  rule: DecisionRule;
  /** Which measurement fired it: a quality source, the drift history, or the operator. */
  source: QualitySource | 'drift' | 'operator';
  /** The rule's numbers in one sentence. */
  reason: string;
}

export interface RunDecision {
  retrain: boolean;
  /** The deciding rule (quality before absolute threshold before drift before request; feedback before golden). */
  rule: RetrainRule | 'requested';
  source: FiredRule['source'] | null;
  fired: FiredRule[];
  /** What every rule saw, one line each, prefixed with what it looked at. */
  details: string[];
  numbers: {
    metric: 'macroRecall';
    baseline: number | null;
    tolerance: number;
    /** Baseline minus tolerance: macro recall below this fires the quality rule. */
    limit: number | null;
    minQualitySamples: number;
    absoluteAccuracyFloor: number | null;
    quality: Partial<Record<QualitySource, { macroRecall: number; accuracy: number; count: number }>>;
    driftStreak: number;
    consecutiveWindows: number;
    /** The chain the drift rule looked at, oldest first. */
    windows: Array<{ reportId: string; windowEnd: string; drifted: boolean }>;
  };
}

const QUALITY_SOURCES: readonly QualitySource[] = ['feedback', 'golden'];
const RULE_ORDER: readonly DecisionRule[] = [
  'quality-below-baseline',
  'absolute-threshold',
  'drift-confirmed',
  'requested',
];
const f3 = (x: number) => x.toFixed(3);

/**
 * `decideRetrain` once per quality source (feedback labels and the golden set are different samples and
 * are judged apart against the same baseline) and once for the drift history, combined into one decision
 * that says which measurement fired which rule, with its numbers.
 */
export function decide(input: DecisionInput): RunDecision {
  const { settings, baseline } = input;
  const fired: FiredRule[] = [];
  const details: string[] = [];
  const limit = baseline ? baseline.macroRecall - settings.tolerance : null;

  for (const source of QUALITY_SOURCES) {
    const quality = input.quality[source];
    if (!quality) {
      details.push(`${source}: no labelled predictions, quality rules skipped`);
      continue;
    }
    const result = decideRetrain({
      quality,
      baseline: baseline ? { macroRecall: baseline.macroRecall, accuracy: baseline.accuracy ?? NaN } : null,
      tolerance: settings.tolerance,
      metric: 'macroRecall',
      minQualitySamples: settings.minQualitySamples,
      absoluteAccuracyFloor: settings.absoluteAccuracyFloor,
      consecutiveWindows: settings.consecutiveWindows,
    });
    // The last line is always the drift rule's, judged below on the real history.
    details.push(...result.details.slice(0, -1).map((line) => `${source}: ${line}`));
    for (const rule of result.fired) {
      if (rule === 'quality-below-baseline' && baseline && limit !== null) {
        fired.push({
          rule,
          source,
          reason:
            `${source} macro recall ${f3(quality.macroRecall)} over ${quality.count} labels is below ` +
            `baseline ${f3(baseline.macroRecall)} - ${settings.tolerance} = ${f3(limit)}`,
        });
      } else if (rule === 'absolute-threshold') {
        fired.push({
          rule,
          source,
          reason: `${source} accuracy ${f3(quality.accuracy)} over ${quality.count} labels is below the floor ${settings.absoluteAccuracyFloor}`,
        });
      }
    }
  }

  const drift = decideRetrain({
    driftHistory: input.chain.map((entry) => entry.drifted),
    consecutiveWindows: settings.consecutiveWindows,
  });
  details.push(`drift: ${drift.details[drift.details.length - 1]}`);
  const streak = driftStreak(input.chain);
  if (drift.fired.includes('drift-confirmed')) {
    fired.push({
      rule: 'drift-confirmed',
      source: 'drift',
      reason: `drift in ${streak} consecutive windows (${settings.consecutiveWindows} confirm it)`,
    });
  }

  if (input.requested) {
    fired.push({
      rule: 'requested',
      source: 'operator',
      reason: 'an operator asked for a retrain (POST /v1/runs)',
    });
    details.push('operator: a retrain was requested with this run');
  }
  fired.sort((a, b) => RULE_ORDER.indexOf(a.rule) - RULE_ORDER.indexOf(b.rule));
  const quality: RunDecision['numbers']['quality'] = {};
  for (const source of QUALITY_SOURCES) {
    const q = input.quality[source];
    if (q) quality[source] = { macroRecall: q.macroRecall, accuracy: q.accuracy, count: q.count };
  }
  return {
    retrain: fired.length > 0,
    rule: fired[0]?.rule ?? 'none',
    source: fired[0]?.source ?? null,
    fired,
    details,
    numbers: {
      metric: 'macroRecall',
      baseline: baseline?.macroRecall ?? null,
      tolerance: settings.tolerance,
      limit,
      minQualitySamples: settings.minQualitySamples,
      absoluteAccuracyFloor: settings.absoluteAccuracyFloor ?? null,
      quality,
      driftStreak: streak,
      consecutiveWindows: settings.consecutiveWindows,
      windows: input.chain.map((entry) => ({
        reportId: entry.reportId,
        windowEnd: new Date(entry.windowEnd).toISOString(),
        drifted: entry.drifted,
      })),
    },
  };
}
