import {
  cacheHitRatio,
  counterDelta,
  parsePrometheusText,
  sumSeries,
  workerCounters,
  workerRunCost,
  workerSoloLane,
} from './prometheus';

const exposition = (hits: number, misses: number, padded: number) => `
# HELP sentiment_result_cache_lookups_total Texts looked up.
# TYPE sentiment_result_cache_lookups_total counter
sentiment_result_cache_lookups_total{outcome="hit",app="inference-worker"} ${hits}
sentiment_result_cache_lookups_total{outcome="miss",app="inference-worker"} ${misses}
sentiment_result_cache_lookups_total{outcome="error",app="inference-worker"} 0
# TYPE sentiment_inference_batch_padded_tokens histogram
sentiment_inference_batch_padded_tokens_bucket{le="+Inf",app="inference-worker"} 4
sentiment_inference_batch_padded_tokens_sum{app="inference-worker"} ${padded}
sentiment_inference_batch_padded_tokens_count{app="inference-worker"} 4
sentiment_inference_batch_texts_sum{app="inference-worker"} 40
sentiment_inference_batch_texts_count{app="inference-worker"} 4
sentiment_inference_busy_seconds_total{app="inference-worker"} 1.5
sentiment_inference_deduplicated_texts_total{app="inference-worker"} 3
process_cpu_user_seconds_total{app="inference-worker"} 2.5 1700000000000
`;

describe('parsePrometheusText', () => {
  it('reads names, labels and values and skips comments', () => {
    const samples = parsePrometheusText(exposition(7, 13, 1000));
    expect(samples.find((s) => s.labels.outcome === 'hit')).toEqual({
      name: 'sentiment_result_cache_lookups_total',
      labels: { outcome: 'hit', app: 'inference-worker' },
      value: 7,
    });
    expect(samples.find((s) => s.labels.le === '+Inf')?.labels.le).toBe('+Inf');
    expect(sumSeries(samples, 'process_cpu_user_seconds_total')).toBe(2.5);
  });

  it('unescapes label values', () => {
    const [sample] = parsePrometheusText('m{path="a\\"b\\\\c"} 1');
    expect(sample.labels.path).toBe('a"b\\c');
  });

  it('sums series whose labels include the filter', () => {
    const samples = parsePrometheusText(exposition(7, 13, 1000));
    expect(sumSeries(samples, 'sentiment_result_cache_lookups_total')).toBe(20);
    expect(sumSeries(samples, 'sentiment_result_cache_lookups_total', { outcome: 'miss' })).toBe(13);
    expect(sumSeries(samples, 'no_such_metric')).toBe(0);
  });
});

describe('worker counters', () => {
  it('takes the difference of two scrapes and the hit ratio of it', () => {
    const before = workerCounters(parsePrometheusText(exposition(2, 10, 500)));
    const after = workerCounters(parsePrometheusText(exposition(32, 80, 2500)));
    const delta = counterDelta(before, after);
    expect(delta).toMatchObject({ cacheHits: 30, cacheMisses: 70, paddedTokens: 2000, batches: 0 });
    expect(cacheHitRatio(delta)).toBeCloseTo(0.3, 12);
    expect(after).toMatchObject({ batches: 4, batchTexts: 40, busySeconds: 1.5, deduplicated: 3 });
  });

  it('has no hit ratio when nothing was looked up', () => {
    const counters = workerCounters([]);
    expect(cacheHitRatio(counters)).toBeUndefined();
  });
});

describe('workerRunCost', () => {
  it("reads the packing policy's cost model in ms, once the worker has run a batch", () => {
    const samples = parsePrometheusText(
      [
        '# TYPE sentiment_inference_run_overhead_seconds gauge',
        'sentiment_inference_run_overhead_seconds{app="inference-worker"} 0.008',
        'sentiment_inference_run_seconds_per_token{app="inference-worker"} 0.00093',
      ].join('\n'),
    );
    const cost = workerRunCost(samples);
    expect(cost?.overheadMs).toBeCloseTo(8);
    expect(cost?.perTokenMs).toBeCloseTo(0.93);
    expect(workerRunCost(parsePrometheusText('sentiment_inference_run_seconds_per_token 0'))).toBeUndefined();
  });
});

describe('workerSoloLane', () => {
  it('says whether the served model has a solo lane, and nothing for a worker without the gauge', () => {
    const lanes = (solo: string) =>
      parsePrometheusText(
        `sentiment_inference_lanes{name="base",version="fp32-1",solo_lane="${solo}",app="inference-worker"} 2`,
      );
    expect(workerSoloLane(lanes('true'))).toBe(true);
    expect(workerSoloLane(lanes('false'))).toBe(false);
    expect(workerSoloLane(parsePrometheusText('sentiment_inference_busy_seconds_total 1'))).toBeUndefined();
  });
});
