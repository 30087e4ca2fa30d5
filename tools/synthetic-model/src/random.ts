/**
 * Seeded Normal(0, std) samples for weight initialisation.
 *
 * mulberry32 feeds a Box-Muller transform: not cryptographic, but it fills the 125M parameters of the base
 * preset in a few seconds, and V8's Math functions are deterministic, so a seed always gives the same weights.
 */
// Local copies: inside a vm sandbox (Jest runs tests in one) every lookup of a global such as `Math` goes
// through an interceptor, which makes this loop about ten times slower.
const { cos, imul, log, PI, sin, sqrt } = Math;

export class NormalSampler {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A new array of `length` samples. */
  sample(length: number, std: number): Float32Array {
    const values = new Float32Array(length);
    let state = this.state;
    // mulberry32 on a local copy of the state: about 20% faster than reading and writing `this.state`.
    const nextUniform = (): number => {
      state = (state + 0x6d2b79f5) | 0;
      let t = imul(state ^ (state >>> 15), state | 1);
      t ^= t + imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    for (let index = 0; index < length; index += 2) {
      // 1 - u lies in (0, 1], so the logarithm stays finite.
      const radius = std * sqrt(-2 * log(1 - nextUniform()));
      const angle = 2 * PI * nextUniform();
      values[index] = radius * cos(angle);
      if (index + 1 < length) values[index + 1] = radius * sin(angle);
    }
    this.state = state;
    return values;
  }
}
