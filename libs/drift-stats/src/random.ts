/**
 * Seeded pseudo-random numbers, so reservoirs and synthetic streams are reproducible from a seed.
 * mulberry32: 32-bit state, period 2^32, good enough for sampling (not for cryptography).
 */
export type Random = () => number;

// Module-level aliases: hot loops then skip global lookups, which are slow inside Jest's vm sandbox.
const { imul, log, sqrt, cos, floor, PI } = Math;

/** Uniform numbers in [0, 1) from a 32-bit seed. */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes integers into one well-spread 32-bit seed (FNV-1a over the parts, then a murmur3 finaliser). */
export function deriveSeed(...parts: number[]): number {
  let hash = 0x811c9dc5;
  for (const part of parts) hash = imul(hash ^ (part >>> 0), 0x01000193);
  hash ^= hash >>> 16;
  hash = imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** A standard normal draw (Box-Muller; one of the pair is discarded for simplicity). */
export function normal(random: Random, mean = 0, sd = 1): number {
  const u1 = 1 - random(); // (0, 1], so the log is finite
  const u2 = random();
  return mean + sd * sqrt(-2 * log(u1)) * cos(2 * PI * u2);
}

/**
 * Uniform sample of at most `cap` items from a stream of unknown length (Vitter's algorithm R):
 * after n offers, every item seen so far is kept with probability min(1, cap / n).
 */
export class Reservoir<T> {
  readonly items: T[] = [];
  private seen = 0;

  constructor(
    readonly cap: number,
    private readonly random: Random,
  ) {
    if (!Number.isInteger(cap) || cap < 1)
      throw new RangeError(`reservoir cap must be a positive integer, got ${cap}`);
  }

  offer(item: T): void {
    this.seen += 1;
    if (this.items.length < this.cap) {
      this.items.push(item);
      return;
    }
    const slot = floor(this.random() * this.seen);
    if (slot < this.cap) this.items[slot] = item;
  }

  /** Items offered so far (kept or not). */
  get offered(): number {
    return this.seen;
  }
}
