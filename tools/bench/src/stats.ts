/** Pure statistics for the benchmark: percentiles, latency summaries, padding and rates. */

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/**
 * Nearest-rank percentile of ascending `sorted` samples: the smallest sample with at least p % of the
 * samples at or below it (p99 of 100 samples is the 99th, of 10 samples the 10th).
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be from 0 to 100, got ${p}`);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const total = sorted.reduce((sum, value) => sum + value, 0);
  return {
    count: sorted.length,
    mean: sorted.length === 0 ? NaN : total / sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length === 0 ? NaN : sorted[sorted.length - 1],
  };
}

/** Pad tokens a right-padded batch of these lengths carries: rows x longest - real. */
export function padTokens(lengths: readonly number[]): number {
  if (lengths.length === 0) return 0;
  const longest = Math.max(...lengths);
  return lengths.length * longest - lengths.reduce((sum, length) => sum + length, 0);
}

/** Share of pad tokens over all batches (token-weighted, not a mean of per-batch ratios). */
export function paddingRatio(batches: readonly (readonly number[])[]): number {
  let real = 0;
  let padded = 0;
  for (const lengths of batches) {
    if (lengths.length === 0) continue;
    real += lengths.reduce((sum, length) => sum + length, 0);
    padded += lengths.length * Math.max(...lengths);
  }
  return padded === 0 ? 0 : 1 - real / padded;
}

/** Share of pad tokens given the real tokens and the padded total (rows x longest, summed over batches). */
export function paddingFromTotals(realTokens: number, paddedTokens: number): number | undefined {
  if (!(paddedTokens > 0) || realTokens > paddedTokens * (1 + 1e-9)) return undefined;
  return Math.max(0, 1 - realTokens / paddedTokens);
}

export function perSecond(count: number, seconds: number): number {
  return seconds > 0 ? count / seconds : NaN;
}
