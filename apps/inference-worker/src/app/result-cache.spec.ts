import { decodeCachedScore, encodeCachedScore, resultCacheHash } from './result-cache';
import type { TextScore } from './loaded-model';

const SCORE: TextScore = {
  label: 'positive',
  scores: { negative: 0.04141234567890123, neutral: 0.4171, positive: 0.5414876543210988 },
  tokens: 12,
  truncated: false,
};

describe('resultCacheHash', () => {
  it('is the sha256 of the text as the tokenizer gets it: mentions and links masked', () => {
    const hash = resultCacheHash('@alice great job http://t.co/1', 512);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(resultCacheHash('@bob great job https://example.com/x?y=1', 512)).toBe(hash);
    expect(resultCacheHash('@user great job http', 512)).toBe(hash);
  });

  it('keeps apart texts the tokenizer encodes differently', () => {
    const hash = resultCacheHash('great job', 512);
    // Byte-level BPE without a normalizer: spaces, case and Unicode forms all change the token ids.
    for (const other of [' great job', 'great job ', 'great  job', 'Great job', 'great job\n']) {
      expect(resultCacheHash(other, 512)).not.toBe(hash);
    }
    expect(resultCacheHash('café', 512)).not.toBe(resultCacheHash('cafe\u0301', 512));
  });

  it('depends on the token limit, which decides where long texts are cut', () => {
    expect(resultCacheHash('great job', 128)).not.toBe(resultCacheHash('great job', 512));
  });
});

describe('cached score encoding', () => {
  it('round-trips every field and the exact score values', () => {
    const decoded = decodeCachedScore(encodeCachedScore(SCORE));
    expect(decoded).toEqual(SCORE);
    expect(decoded?.scores.negative).toBe(SCORE.scores.negative);
    expect(decodeCachedScore(encodeCachedScore({ ...SCORE, tokens: 512, truncated: true }))).toEqual({
      ...SCORE,
      tokens: 512,
      truncated: true,
    });
  });

  it('keeps only the score fields', () => {
    const extra = { ...SCORE, id: 'tweet-1', scores: { ...SCORE.scores, other: 1 } };
    expect(JSON.parse(encodeCachedScore(extra as TextScore))).toEqual(SCORE);
  });

  it.each([
    'not json',
    'null',
    '42',
    '[]',
    JSON.stringify({ ...SCORE, label: 'happy' }),
    JSON.stringify({ ...SCORE, scores: { negative: 0.1, neutral: 0.2 } }),
    JSON.stringify({ ...SCORE, scores: null }),
    JSON.stringify({ ...SCORE, tokens: 1.5 }),
    JSON.stringify({ ...SCORE, truncated: 'no' }),
  ])('reads %s as no entry', (raw) => {
    expect(decodeCachedScore(raw)).toBeUndefined();
  });
});
