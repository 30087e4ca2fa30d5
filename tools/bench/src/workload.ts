/** The texts each scenario sends: TweetEval test tweets, cut, chunked, sorted or mixed with duplicates. */
import { readFileSync } from 'node:fs';

/** One tweet per line; blank lines dropped. */
export function readTexts(path: string, limit?: number): string[] {
  const texts = readFileSync(path, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  return limit === undefined ? texts : texts.slice(0, limit);
}

/** Seeded PRNG (mulberry32): the same seed gives the same workload on every run and machine. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates shuffle into a new array. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

export interface DuplicateWorkload {
  texts: string[];
  /** Distinct texts in the workload. */
  unique: number;
  /** Texts that repeat one sent before them in `texts`. */
  repeats: number;
}

/**
 * `total` texts of which `share` repeat an earlier one (a retweet or copy-paste of a tweet already
 * seen): round(total x (1 - share)) distinct tweets from `pool`, plus repeats drawn from them, shuffled
 * so that every repeat comes after the first sending of its tweet.
 */
export function duplicateWorkload(
  pool: readonly string[],
  total: number,
  share: number,
  seed: number,
): DuplicateWorkload {
  if (!(share >= 0 && share < 1)) throw new RangeError(`duplicate share must be in [0, 1), got ${share}`);
  const unique = Math.max(1, Math.round(total * (1 - share)));
  const distinct = [...new Set(pool)];
  if (distinct.length < unique)
    throw new RangeError(`need ${unique} distinct texts, the pool has ${distinct.length}`);
  const random = seededRandom(seed);
  const originals = shuffled(distinct.slice(0, unique), random);
  // Where the repeats go: a shuffled mix of original and repeat slots that starts with an original.
  const slots = shuffled(
    Array.from({ length: total }, (_, i) => i < unique),
    random,
  );
  const firstOriginal = slots.indexOf(true);
  [slots[0], slots[firstOriginal]] = [slots[firstOriginal], slots[0]];
  const texts: string[] = [];
  let nextOriginal = 0;
  for (const isOriginal of slots) {
    // A repeat copies any tweet already sent (early, widely shared tweets get repeated more, as in real life).
    texts.push(isOriginal ? originals[nextOriginal++] : texts[Math.floor(random() * texts.length)]);
  }
  return { texts, unique, repeats: total - unique };
}

/** Consecutive slices of at most `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  if (!(size >= 1)) throw new RangeError(`chunk size must be at least 1, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Sequences sorted by length (stable), cut into batches of `size`: the raw ceiling's batching. */
export function lengthSortedBatches(sequences: readonly number[][], size: number): number[][][] {
  return chunk(
    [...sequences].sort((a, b) => a.length - b.length),
    size,
  );
}

/** Texts to warm a stack up with: none of them is a TweetEval tweet, so they never prime the cache. */
export function warmupTexts(count: number): string[] {
  return Array.from(
    { length: count },
    (_, i) => `warm-up request ${i + 1}: the service is checking that every part is loaded and ready`,
  );
}
