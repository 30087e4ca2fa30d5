import { keyFamily } from '@reputation-monitor/app-harness';
import { estimateFamilies, retainedPerJob, sampleIndices } from './key-families';

describe('keyFamily (app-harness), as the capacity steps use it', () => {
  const family = (key: string, prefix = 'rm') => keyFamily(key, prefix, 'sentiment');

  it("tells BullMQ's job keys from its queue keys", () => {
    expect(family('rm:sentiment:4f0c2a1e-9d8b-4c3a-8f1e-0a1b2c3d4e5f')).toBe('jobs');
    expect(family('rm:sentiment:acme~t-tweet-1')).toBe('jobs');
    expect(family('rm:sentiment:42:lock')).toBe('job locks and logs');
    expect(family('rm:sentiment:42:logs')).toBe('job locks and logs');
    expect(family('rm:sentiment:completed')).toBe('completed set');
    expect(family('rm:sentiment:events')).toBe('events stream');
    expect(family('rm:sentiment:stalled-check')).toBe('queue (other)');
    expect(family('rm:sentiment:metrics:completed')).toBe('queue (other)');
    expect(family('rm:sentiment:de:abc')).toBe('queue (other)');
  });

  it("names the project's own keys", () => {
    expect(family('rm:predictions')).toBe('prediction stream');
    expect(family('rm:prediction-index:gen:3')).toBe('prediction index');
    expect(family('rm:result-cache:ring')).toBe('result cache');
    expect(family('rm:id-claims:gen:2')).toBe('id claims');
    expect(family('rm:workers:heartbeats')).toBe('workers and model state');
    expect(family('rm:model:assignment')).toBe('workers and model state');
    expect(family('rm:feedback:xyz')).toBe('feedback');
    expect(family('rm:examples:pending')).toBe('examples');
    expect(family('rm:rate-limit:{default:acme}:hits')).toBe('rate limit');
    expect(family('rm:something-new')).toBe('other');
    expect(family('elsewhere:key')).toBe('other');
  });

  it('works with a hash-tagged prefix, as Redis Cluster needs', () => {
    expect(family('{rm}:sentiment:17', '{rm}')).toBe('jobs');
    expect(family('{rm}:predictions', '{rm}')).toBe('prediction stream');
    expect(family('rm:predictions', '{rm}')).toBe('other');
  });
});

describe('sampleIndices', () => {
  it('takes all keys of a small family and spreads the sample over a large one', () => {
    expect(sampleIndices(3, 5)).toEqual([0, 1, 2]);
    expect(sampleIndices(10, 5)).toEqual([0, 2, 4, 6, 8]);
    expect(sampleIndices(1000, 4)).toEqual([0, 250, 500, 750]);
    expect(sampleIndices(0, 5)).toEqual([]);
  });
});

describe('estimateFamilies and retainedPerJob', () => {
  const estimates = estimateFamilies([
    { family: 'jobs', keys: 1000, sampledBytes: [1700, 1800] },
    { family: 'completed set', keys: 1, sampledBytes: [150_000] },
    { family: 'prediction stream', keys: 1, sampledBytes: [250_000] },
    { family: 'workers and model state', keys: 4, sampledBytes: [500, 700, 600, 600] },
    { family: 'queue (other)', keys: 1, sampledBytes: [] },
  ]);

  it('scales the sampled mean to the key count, largest first', () => {
    expect(estimates).toEqual([
      { family: 'jobs', keys: 1000, sampled: 2, bytes: 1_750_000 },
      { family: 'prediction stream', keys: 1, sampled: 1, bytes: 250_000 },
      { family: 'completed set', keys: 1, sampled: 1, bytes: 150_000 },
      { family: 'workers and model state', keys: 4, sampled: 4, bytes: 2_400 },
      { family: 'queue (other)', keys: 1, sampled: 0, bytes: 0 },
    ]);
  });

  it('puts the per-job families down to the completed jobs kept', () => {
    const retained = retainedPerJob(estimates, 1000);
    expect(retained.bytesPerJob).toBe(2150);
    expect(retained.byFamily).toEqual([
      { family: 'jobs', bytesPerJob: 1750 },
      { family: 'prediction stream', bytesPerJob: 250 },
      { family: 'completed set', bytesPerJob: 150 },
    ]);
  });
});
