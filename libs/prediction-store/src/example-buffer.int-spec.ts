import IORedis from 'ioredis';
import { LabelledExample, SentimentLabel, redisKeys } from '@reputation-monitor/contracts';
import { ExampleBuffer } from './example-buffer';
import { exampleId } from './example-id';

// Real Redis; a key prefix per run keeps runs apart.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `test-examples-${process.pid}-${Date.now().toString(36)}`;
const redis = new IORedis(REDIS_URL);
const buffer = new ExampleBuffer(redis, { prefix, ttlSeconds: 3_600 });

function example(text: string, label: SentimentLabel, at = Date.now(), tenant?: string): LabelledExample {
  return {
    id: exampleId(text),
    text,
    label,
    source: 'test',
    origin: 'import',
    at,
    ...(tenant && { tenant }),
  };
}

async function clear(): Promise<void> {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
}

afterEach(clear);
afterAll(async () => {
  await clear();
  redis.disconnect();
});

describe('ExampleBuffer', () => {
  it('stores a text once per label and lets a relabel replace it, counting both', async () => {
    expect(await buffer.add([example('good', 'positive'), example('bad', 'negative')])).toEqual([
      'stored',
      'stored',
    ]);
    expect(await buffer.add([example('good', 'positive')])).toEqual(['duplicate']);
    expect(await buffer.add([example('good', 'neutral')])).toEqual(['relabelled']);
    expect(await buffer.pendingCount()).toBe(2);
    expect(await buffer.oldestPendingAt()).toBeLessThanOrEqual(Date.now());
    const batch = await buffer.beginExport('20261129T190000000Z-aaaaaa');
    expect(batch?.examples.find((e) => e.text === 'good')?.label).toBe('neutral');
    expect(await buffer.counters()).toMatchObject({ stored: 2, duplicate: 1, relabelled: 1 });
  });

  it('drops pending examples older than the TTL and sets a TTL on its keys', async () => {
    const short = new ExampleBuffer(redis, { prefix, ttlSeconds: 60 });
    const now = Date.now();
    await short.add([example('old', 'negative', now - 120_000)], now - 120_000);
    await short.add([example('new', 'positive', now)], now);
    expect(await short.pendingCount()).toBe(1);
    expect((await short.counters()).expired).toBe(1);
    const ttl = await redis.pttl(redisKeys.examplesPending(prefix));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('keeps at most maxPending examples waiting, evicting the oldest and counting them', async () => {
    const capped = new ExampleBuffer(redis, { prefix, ttlSeconds: 3_600, maxPending: 3 });
    const now = Date.now();
    await capped.add([example('e1', 'negative', now - 5), example('e2', 'neutral', now - 4)]);
    await capped.add([example('e3', 'positive', now - 3), example('e4', 'negative', now - 2)]);
    await capped.add([example('e5', 'neutral', now - 1)]);
    expect(await capped.pendingCount()).toBe(3);
    expect(await redis.zcard(redisKeys.examplesPendingByTime(prefix))).toBe(3);
    expect((await capped.counters()).evicted).toBe(2);
    const batch = await capped.beginExport('20261129T190000000Z-cap001');
    expect(batch?.examples.map((e) => e.text).sort()).toEqual(['e3', 'e4', 'e5']);
  });

  it("keeps each tenant's label of a text its own: another tenant neither learns nor changes it", async () => {
    expect(await buffer.add([example('shared text', 'negative', Date.now(), 'acme')])).toEqual(['stored']);
    // Not `duplicate`: that would tell globex how acme labelled it.
    expect(await buffer.add([example('shared text', 'negative', Date.now(), 'globex')])).toEqual(['stored']);
    expect(await buffer.add([example('shared text', 'positive', Date.now(), 'globex')])).toEqual([
      'relabelled',
    ]);
    expect(await buffer.add([example('shared text', 'negative', Date.now(), 'acme')])).toEqual(['duplicate']);
    const batch = await buffer.beginExport('20261129T190000000Z-tenant');
    expect(batch?.examples.map((e) => [e.tenant, e.label]).sort()).toEqual([
      ['acme', 'negative'],
      ['globex', 'positive'],
    ]);
    // The export takes the tenants' time indexes with it.
    expect(await redis.keys(`${prefix}:examples:pending*`)).toEqual([]);
  });

  it("evicts the oldest of the tenant holding the most when full, not another tenant's", async () => {
    const capped = new ExampleBuffer(redis, { prefix, ttlSeconds: 3_600, maxPending: 4 });
    const now = Date.now();
    await capped.add([
      example('a1', 'negative', now - 100, 'acme'),
      example('a2', 'neutral', now - 99, 'acme'),
    ]);
    // globex floods: its own oldest go, acme's older examples stay.
    const flood = Array.from({ length: 5 }, (_, i) => example(`g${i}`, 'positive', now - 50 + i, 'globex'));
    await capped.add(flood);
    expect(await capped.pendingCount()).toBe(4);
    expect((await capped.counters()).evicted).toBe(3);
    expect(await redis.zrange(redisKeys.examplesPendingOfTenant(prefix, 'acme'), 0, -1)).toHaveLength(2);
    expect((await redis.zrange(redisKeys.examplesPendingByTime(prefix), 0, -1)).length).toBe(4);
    // Examples without a tenant are a bucket of their own. Of two equal holders, the one with the oldest loses it.
    await capped.add([example('n1', 'neutral', now)]);
    const batch = await capped.beginExport('20261129T190000000Z-fair01');
    expect(batch?.examples.map((e) => e.text).sort()).toEqual(['a2', 'g3', 'g4', 'n1']);
  });

  it('exports exactly once: an unfinished batch is handed out again, examples added meanwhile wait for the next', async () => {
    await buffer.add([example('one', 'positive'), example('two', 'negative')]);
    const first = await buffer.beginExport('20261129T190000000Z-000001');
    expect(first?.batchId).toBe('20261129T190000000Z-000001');
    expect(first?.examples.map((e) => e.text).sort()).toEqual(['one', 'two']);
    // Added while the batch is out: not part of it.
    await buffer.add([example('three', 'neutral')]);
    // The exporting replica died before finishing: the next run gets the same batch, not a new one.
    const again = await buffer.beginExport('20261129T190500000Z-000002');
    expect(again?.batchId).toBe(first?.batchId);
    expect(again?.examples).toHaveLength(2);
    expect(await redis.pttl(redisKeys.examplesExportBatch(prefix, first!.batchId))).toBe(-1);

    expect(await buffer.finishExport(again!)).toBe(true);
    expect(await buffer.finishExport(again!)).toBe(false);
    const next = await buffer.beginExport('20261129T191000000Z-000003');
    expect(next?.examples.map((e) => e.text)).toEqual(['three']);
    expect((await buffer.counters()).exported).toBe(2);
  });

  it('has nothing to export when nothing is pending', async () => {
    expect(await buffer.oldestPendingAt()).toBeUndefined();
    expect(await buffer.beginExport('20261129T190000000Z-000004')).toBeUndefined();
  });

  it('deletes by id from the pending examples and from a batch being exported', async () => {
    await buffer.add([example('keep', 'positive'), example('forget me', 'negative')]);
    const batch = await buffer.beginExport('20261129T190000000Z-000005');
    await buffer.add([example('forget me too', 'neutral')]);
    expect(await buffer.delete([exampleId('forget me'), exampleId('forget me too')])).toBe(2);
    const again = await buffer.beginExport('20261129T190000000Z-000006');
    expect(again?.batchId).toBe(batch?.batchId);
    expect(again?.examples.map((e) => e.text)).toEqual(['keep']);
    expect((await buffer.counters()).deleted).toBe(2);
  });

  it("deletes every tenant's record of a text, and its place in the tenants' time indexes", async () => {
    await buffer.add([example('erase me', 'negative', Date.now(), 'acme')]);
    await buffer.add([example('erase me', 'positive', Date.now(), 'globex'), example('stay', 'neutral')]);
    expect(await buffer.delete([exampleId('erase me')])).toBe(2);
    expect(await buffer.pendingCount()).toBe(1);
    for (const tenant of ['acme', 'globex'])
      expect(await redis.zcard(redisKeys.examplesPendingOfTenant(prefix, tenant))).toBe(0);
    expect(await redis.zcard(redisKeys.examplesPendingByTime(prefix))).toBe(1);
  });

  it('refuses to report a deletion Redis did not make', async () => {
    await buffer.add([example('must go', 'negative')]);
    // A user that may not HDEL (an ACL, or a replica answering READONLY during a failover).
    const user = `${prefix}-no-hdel`;
    await redis.acl('SETUSER', user, 'on', '>secret', `~${prefix}:*`, '&*', '+@all', '-hdel');
    const { hostname, port } = new URL(REDIS_URL);
    const limited = new IORedis(`redis://${user}:secret@${hostname}:${port}`);
    try {
      const restricted = new ExampleBuffer(limited, { prefix, ttlSeconds: 3_600 });
      await expect(restricted.delete([exampleId('must go')])).rejects.toThrow(/can't run this command/);
      expect(await buffer.pendingCount()).toBe(1);
    } finally {
      limited.disconnect();
      await redis.acl('DELUSER', user);
    }
  });

  it('skips unreadable entries of a batch and counts them', async () => {
    await buffer.add([example('fine', 'positive')]);
    await redis.hset(redisKeys.examplesPending(prefix), 'x'.repeat(32), '{not json');
    const batch = await buffer.beginExport('20261129T190000000Z-000007');
    expect(batch?.examples).toHaveLength(1);
    expect(batch?.unreadable).toBe(1);
  });
});
