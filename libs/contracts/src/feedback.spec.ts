import { decodeIndexedPrediction, encodeIndexedPrediction, predictionIndexBucket } from './feedback';

describe('prediction index entries', () => {
  it('round-trip, including versions that contain the separator', () => {
    const entry = { label: 'negative' as const, at: 1_764_130_000_000, modelVersion: 'fp32-abc|x' };
    expect(decodeIndexedPrediction(encodeIndexedPrediction(entry))).toEqual(entry);
  });

  it('round-trip with the job that holds the text, and still read entries written without one', () => {
    const entry = { label: 'neutral' as const, at: 5, modelVersion: 'v|1', jobId: 't-tweet-9' };
    expect(encodeIndexedPrediction(entry)).toBe('j|neutral|5|t-tweet-9|v|1');
    expect(decodeIndexedPrediction(encodeIndexedPrediction(entry))).toEqual(entry);
    expect(decodeIndexedPrediction('positive|5|v1')).toEqual({
      label: 'positive',
      at: 5,
      modelVersion: 'v1',
    });
    expect(decodeIndexedPrediction('j|positive|5||v1')).toBeUndefined();
  });

  it('reject malformed values', () => {
    expect(decodeIndexedPrediction('happy|1|v')).toBeUndefined();
    expect(decodeIndexedPrediction('negative|soon|v')).toBeUndefined();
    expect(decodeIndexedPrediction('negative|1')).toBeUndefined();
  });

  it('bucket by hour', () => {
    expect(predictionIndexBucket(3_600_000 * 5 + 1)).toBe(5);
    expect(predictionIndexBucket(3_600_000 * 5 - 1)).toBe(4);
  });
});
