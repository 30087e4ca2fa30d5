/**
 * `--rounds N`: the selected runs N times over, round after round, so slow drifts of a shared machine fall on
 * every scenario alike. Each round's comparisons are computed within that round (side by side, as a single run's
 * are) and the report gives, per comparison, the round with the median value; per measurement the round with the
 * median rate. Odd N gives a true median.
 */
import type { Measurement, RatioCheck } from './results';

/** The element of `items` whose `key` is the median (the lower middle one for an even count). */
function medianBy<T>(items: readonly T[], key: (item: T) => number): T {
  const sorted = [...items].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

const figures = (values: readonly number[], digits: number) =>
  values.map((v) => v.toFixed(digits)).join(', ');

/**
 * One row per measurement id (first-seen order): the round with the median texts/s (or, without a rate, the
 * median latency p50), its note saying what the rounds gave. Rows not measured in some round count only where ok.
 */
export function medianMeasurements(rounds: readonly (readonly Measurement[])[]): Measurement[] {
  if (rounds.length === 1) return [...rounds[0]];
  const ids = [...new Set(rounds.flat().map((m) => m.id))];
  return ids.map((id) => {
    const rows = rounds.flat().filter((m) => m.id === id);
    const ok = rows.filter((m) => m.status === 'ok');
    if (ok.length === 0) return rows[0];
    const rate = (m: Measurement) => m.textsPerSecond ?? NaN;
    const p50 = (m: Measurement) => m.latencyMs?.p50 ?? NaN;
    let chosen: Measurement;
    let summary: string;
    if (ok.every((m) => Number.isFinite(rate(m)))) {
      chosen = medianBy(ok, rate);
      summary = `median of ${ok.length} rounds (${figures(ok.map(rate), 1)} texts/s)`;
    } else if (ok.every((m) => Number.isFinite(p50(m)))) {
      chosen = medianBy(ok, p50);
      summary = `median of ${ok.length} rounds (p50 ${figures(ok.map(p50), 1)} ms)`;
    } else {
      // Nothing to rank by (the cost grid): the middle round's row.
      chosen = ok[Math.floor((ok.length - 1) / 2)];
      summary = `round ${chosen.round ?? ''} of ${ok.length}`;
    }
    return { ...chosen, note: chosen.note ? `${summary}; ${chosen.note}` : summary };
  });
}

/** Per comparison, the round with the median value, its detail preceded by every round's value. */
export function medianChecks(rounds: readonly (readonly RatioCheck[])[]): RatioCheck[] {
  if (rounds.length === 1) return [...rounds[0]];
  const names = [...new Set(rounds.flat().map((check) => check.name))];
  return names.map((name) => {
    const checks = rounds.flat().filter((check) => check.name === name);
    const measured = checks.filter((check) => check.value !== undefined && Number.isFinite(check.value));
    if (measured.length === 0) return checks[0];
    const chosen = medianBy(measured, (check) => check.value as number);
    const digits = chosen.unit === 'ratio' ? 2 : 0;
    const met = measured.filter((check) => check.met).length;
    const values = `rounds ${figures(
      measured.map((check) => check.value as number),
      digits,
    )}`;
    const tally = chosen.met === undefined ? '' : `, met in ${met} of ${measured.length}`;
    return { ...chosen, detail: `${values}${tally}; median round: ${chosen.detail ?? ''}` };
  });
}
