import { redisKeys } from './queues';

describe('redisKeys.resultCache', () => {
  it('sits under the prefix, and its fields name the model version, so prefixes and versions never share entries', () => {
    const hash = 'ab'.repeat(32);
    expect(redisKeys.resultCache('rm')).toBe('rm:result-cache');
    expect(redisKeys.resultCache('test-run')).not.toBe(redisKeys.resultCache('rm'));
    expect(redisKeys.resultCacheField('fp32-c28fb719eecb', hash)).toBe(`fp32-c28fb719eecb:${hash}`);
    expect(redisKeys.resultCacheField('v2', hash)).not.toBe(redisKeys.resultCacheField('v1', hash));
  });
});

describe('redisKeys.predictionIndex', () => {
  it('keeps the ring apart from the hourly hashes of earlier workers', () => {
    expect(redisKeys.predictionIndex('rm')).toBe('rm:prediction-index');
    expect(redisKeys.legacyPredictionIndexHour('rm', 490_000)).toBe('rm:prediction-index:490000');
  });
});
