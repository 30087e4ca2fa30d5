import { redisKeys } from './queues';

describe('redisKeys.resultCache', () => {
  it('sits under the prefix and names the model version, so prefixes and versions never share entries', () => {
    const hash = 'ab'.repeat(32);
    expect(redisKeys.resultCache('rm', 'fp32-c28fb719eecb', hash)).toBe(
      `rm:result-cache:fp32-c28fb719eecb:${hash}`,
    );
    expect(redisKeys.resultCache('test-run', 'v1', hash)).not.toBe(redisKeys.resultCache('rm', 'v1', hash));
    expect(redisKeys.resultCache('rm', 'v2', hash)).not.toBe(redisKeys.resultCache('rm', 'v1', hash));
  });
});
