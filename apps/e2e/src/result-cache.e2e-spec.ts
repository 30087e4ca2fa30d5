import type { Redis } from 'ioredis';
import { redisKeys } from '@reputation-monitor/contracts';
import { AppProcess, startGateway, startWorker, stopAll } from './support/apps';
import { postJson } from './support/http';
import { connectRedis, deletePrefix, uniquePrefix } from './support/redis';

// The worker's duplicate-result cache, through the real stack: a worker and a gateway of this suite only,
// so the worker's counters move by exactly what each test sends.
const prefix = uniquePrefix('result-cache');
let redis: Redis;
let gateway: AppProcess;
let worker: AppProcess;

beforeAll(async () => {
  redis = connectRedis();
  worker = await startWorker({ QUEUE_PREFIX: prefix });
  gateway = await startGateway({ QUEUE_PREFIX: prefix, SYNC_TIMEOUT_MS: '20000' });
});

afterAll(async () => {
  await stopAll();
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

/** The worker's counters that tell computed texts from cached ones. */
async function counters() {
  const response = await fetch(`${worker.url}/metrics`);
  expect(response.status).toBe(200);
  const text = await response.text();
  const sample = (name: string, labels = ''): number => {
    const line = text
      .split('\n')
      .find((candidate) => /^[\w:]+/.exec(candidate)?.[0] === name && candidate.includes(labels));
    if (!line) throw new Error(`no sample ${name}{${labels}} in the worker's metrics`);
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  return {
    hits: sample('sentiment_result_cache_lookups_total', 'outcome="hit"'),
    misses: sample('sentiment_result_cache_lookups_total', 'outcome="miss"'),
    errors: sample('sentiment_result_cache_lookups_total', 'outcome="error"'),
    deduplicated: sample('sentiment_inference_deduplicated_texts_total'),
    /** Texts that went through the model. */
    computed: sample('sentiment_inference_batch_texts_sum'),
  };
}

type Counters = Awaited<ReturnType<typeof counters>>;
function delta(before: Counters, after: Counters): Counters {
  const keys = Object.keys(before) as Array<keyof Counters>;
  return Object.fromEntries(keys.map((key) => [key, after[key] - before[key]])) as Counters;
}

/** A prediction without what differs between two requests of the same text. */
function scoreOf(body: Record<string, unknown>) {
  const { label, scores, tokens, truncated, model } = body;
  return { label, scores, tokens, truncated, model };
}

describe('duplicate-result cache', () => {
  it('answers the same text twice with identical results, the second from the cache, both recorded', async () => {
    const text = 'Copy-paste campaign: this brand ruined my weekend, share if you agree';
    const before = await counters();
    const first = await postJson(`${gateway.url}/v1/sentiment`, { text, id: 'dup-first', source: 'x' });
    const second = await postJson(`${gateway.url}/v1/sentiment`, { text, id: 'dup-second', source: 'x' });
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(scoreOf(second.body)).toEqual(scoreOf(first.body));
    expect(second.body.id).toBe('dup-second');
    expect(delta(before, await counters())).toEqual({
      hits: 1,
      misses: 1,
      errors: 0,
      deduplicated: 0,
      computed: 1,
    });

    // The cache hit is a prediction like any other: in the stream, and open to feedback by its id.
    const entries = await redis.xrange(redisKeys.predictionStream(prefix), '-', '+');
    const ids = entries.map(([, fields]) => fields[fields.indexOf('id') + 1]);
    expect(ids).toEqual(expect.arrayContaining(['dup-first', 'dup-second']));
    const feedback = await postJson(`${gateway.url}/v1/feedback`, { id: 'dup-second', label: 'negative' });
    expect(feedback.status).toBe(200);
    expect(feedback.body).toMatchObject({
      status: 'stored',
      predicted: second.body.label,
      modelVersion: second.body.model.version,
    });
  });

  it('serves texts that differ only in the mentions and links the model masks from one entry', async () => {
    const before = await counters();
    const first = await postJson(`${gateway.url}/v1/sentiment`, {
      text: '@alice the new app is lovely https://t.co/abc',
    });
    const second = await postJson(`${gateway.url}/v1/sentiment`, {
      text: '@bob the new app is lovely http://example.com/x',
    });
    expect(scoreOf(second.body)).toEqual(scoreOf(first.body));
    expect(delta(before, await counters())).toMatchObject({ hits: 1, misses: 1, computed: 1 });
  });

  it('computes a text repeated within one batch once', async () => {
    const text = 'Retweeted three times in one batch';
    const before = await counters();
    const response = await postJson(`${gateway.url}/v1/sentiment/batch`, {
      items: [{ text }, { text: 'something else entirely' }, { text }, { text }],
    });
    expect(response.status).toBe(200);
    const [a, other, b, c] = response.body.results;
    expect(scoreOf(b)).toEqual(scoreOf(a));
    expect(scoreOf(c)).toEqual(scoreOf(a));
    expect(other.scores).not.toEqual(a.scores);
    expect(delta(before, await counters())).toEqual({
      hits: 0,
      misses: 4,
      errors: 0,
      deduplicated: 2,
      computed: 2,
    });
  });

  it('keeps its entries under the queue prefix, in a capped ring that lives the default TTL x 8/7', async () => {
    const keys = (await redis.keys(`${prefix}:result-cache:*`)).sort();
    // One bucket and the ring's state, under the prefix.
    expect(keys).toEqual([`${prefix}:result-cache:gen:1`, `${prefix}:result-cache:ring`]);
    const fields = await redis.hkeys(keys[0]);
    expect(fields).toHaveLength(4); // one per distinct text the tests above sent
    for (const field of fields) expect(field).toMatch(/^fp32-[0-9a-f]{12}:[0-9a-f]{64}$/);
    const ttl = await redis.pttl(keys[0]);
    expect(ttl).toBeGreaterThan(3_000_000);
    expect(ttl).toBeLessThanOrEqual(Math.ceil(3_600_000 / 7) * 8);
  });
});
