import { Socket, connect } from 'node:net';
import type { Redis } from 'ioredis';
import { AppProcess, spawnApp, startGateway, stopAll } from './support/apps';
import { connectRedis, deletePrefix, uniquePrefix } from './support/redis';
import { getJson, postJson, request } from './support/http';

// No worker consumes this prefix: accepted jobs stay queued, which is what the backpressure tests need.
const prefix = uniquePrefix('edges');
const API_KEY = 'test-key-0123456789abcdef';
let redis: Redis;
let gateway: AppProcess;

beforeAll(async () => {
  redis = connectRedis();
  gateway = await startGateway({
    QUEUE_PREFIX: prefix,
    MAX_TEXT_CHARS: '200',
    MAX_BATCH_ITEMS: '8',
    MAX_QUEUE_DEPTH: '3',
    SYNC_TIMEOUT_MS: '300',
  });
});

afterAll(async () => {
  await stopAll();
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

describe('bad input gets a 4xx problem that names the field, and nothing is enqueued', () => {
  const cases: Array<[string, string, unknown, number, string | undefined]> = [
    ['empty text', '/v1/sentiment', { text: '' }, 422, 'text'],
    ['whitespace text', '/v1/sentiment', { text: ' \n\t ' }, 422, 'text'],
    ['numeric text', '/v1/sentiment', { text: 42 }, 422, 'text'],
    ['null text', '/v1/sentiment', { text: null }, 422, 'text'],
    ['object text', '/v1/sentiment', { text: { a: 1 } }, 422, 'text'],
    ['missing text', '/v1/sentiment', {}, 422, 'text'],
    ['text over the character limit', '/v1/sentiment', { text: 'x'.repeat(201) }, 422, 'text'],
    ['unknown field', '/v1/sentiment', { text: 'ok', lang: 'en' }, 422, 'lang'],
    ['id with a colon', '/v1/sentiment', { text: 'ok', id: 'a:b' }, 422, 'id'],
    ['numeric id', '/v1/sentiment', { text: 'ok', id: 7 }, 422, 'id'],
    ['source with spaces', '/v1/sentiment', { text: 'ok', source: 'my source' }, 422, 'source'],
    ['array body', '/v1/sentiment', [{ text: 'ok' }], 422, undefined],
    [
      'too many items',
      '/v1/sentiment/batch',
      { items: Array.from({ length: 9 }, () => ({ text: 'ok' })) },
      422,
      'items',
    ],
    ['empty items', '/v1/sentiment/batch', { items: [] }, 422, 'items'],
    ['items not an array', '/v1/sentiment/batch', { items: 'ok' }, 422, 'items'],
    ['item not an object', '/v1/sentiment/batch', { items: ['ok'] }, 422, 'items[0]'],
    [
      'blank item text',
      '/v1/sentiment/batch',
      { items: [{ text: 'fine' }, { text: '   ' }] },
      422,
      'items[1].text',
    ],
    [
      'unknown item field',
      '/v1/sentiment/batch',
      { items: [{ text: 'ok', score: 1 }] },
      422,
      'items[0].score',
    ],
    [
      'repeated item ids',
      '/v1/sentiment/batch',
      {
        items: [
          { text: 'a', id: 'x' },
          { text: 'b', id: 'x' },
        ],
      },
      422,
      'items[1].id',
    ],
  ];

  it.each(cases)('%s: POST %s -> %i', async (_name, path, body, status, field) => {
    const before = await redis.keys(`${prefix}:sentiment:*`);
    const response = await postJson(gateway.url + path, body);
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({
      status,
      code: 'validation_failed',
      title: expect.any(String),
      detail: expect.any(String),
    });
    if (field) expect(response.body.errors.map((error: { field: string }) => error.field)).toContain(field);
    expect(await redis.keys(`${prefix}:sentiment:*`)).toEqual(before);
  });

  it('malformed JSON -> 400', async () => {
    const response = await postJson(`${gateway.url}/v1/sentiment`, '{"text": "unterminated');
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('malformed_json');
  });

  it('oversize body -> 413', async () => {
    const response = await postJson(`${gateway.url}/v1/sentiment`, { text: 'x'.repeat(2 * 1024 * 1024) });
    expect(response.status).toBe(413);
    expect(response.body.code).toBe('payload_too_large');
  });

  it('non-JSON content type -> 415', async () => {
    const response = await request(`${gateway.url}/v1/sentiment`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'hello',
    });
    expect(response.status).toBe(415);
    expect(response.body.code).toBe('unsupported_media_type');
  });

  it('a POST without any body -> 422 naming the missing field', async () => {
    const response = await request(`${gateway.url}/v1/sentiment`, { method: 'POST' });
    expect(response.status).toBe(422);
    expect(response.body.errors).toContainEqual(expect.objectContaining({ field: 'text' }));
  });

  it('a wait flag that is not true or false -> 422', async () => {
    const response = await postJson(`${gateway.url}/v1/sentiment?wait=maybe`, { text: 'ok' });
    expect(response.status).toBe(422);
    expect(response.body.errors).toEqual([{ field: 'wait', message: 'must be true or false' }]);
  });

  it('unknown routes -> 404 problem', async () => {
    const response = await getJson(`${gateway.url}/v1/nothing-here`);
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});

describe('backpressure and the sync wait limit', () => {
  it('answers 202 when the result does not come in time, then 429 with Retry-After once the queue is full', async () => {
    // SYNC_TIMEOUT_MS is 300 and no worker runs: a sync request falls back to 202.
    const slow = await postJson(`${gateway.url}/v1/sentiment`, { text: 'nobody is listening' });
    expect(slow.status).toBe(202);
    expect(slow.body.status).toBe('queued');
    const statuses: number[] = [slow.status];
    for (let i = 0; i < 4; i++)
      statuses.push(
        (await postJson(`${gateway.url}/v1/sentiment?wait=false`, { text: `queued ${i}`, id: `named-${i}` }))
          .status,
      );
    expect(statuses).toEqual([202, 202, 202, 429, 429]);
    const refused = await postJson(`${gateway.url}/v1/sentiment/batch?wait=false`, {
      items: [{ text: 'more' }],
    });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('2');
    expect(refused.body.code).toBe('queue_full');
    // Every accepted job is still there: nothing was dropped to make room.
    expect(await redis.llen(`${prefix}:sentiment:wait`)).toBe(3);
  });

  it('refuses while full before validating a body, yet answers a retry naming an accepted job', async () => {
    // The queue is full (above): a body the validation would refuse is answered 429 before it gets that far.
    const invalid = await postJson(`${gateway.url}/v1/sentiment/batch?wait=false`, { items: 'not a list' });
    expect(invalid.status).toBe(429);
    expect(invalid.headers.get('retry-after')).toBe('2');
    expect(invalid.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(invalid.body).toMatchObject({ status: 429, code: 'queue_full' });
    expect(invalid.body.requestId).toEqual(expect.any(String));
    // A body naming ids goes the whole way: a retry of an accepted job gets that job, a new id a 429, bad input a 422.
    const retry = await postJson(`${gateway.url}/v1/sentiment?wait=false`, {
      text: 'queued 0',
      id: 'named-0',
    });
    expect([retry.status, retry.body.jobId]).toEqual([202, 't-named-0']);
    const named = await postJson(`${gateway.url}/v1/sentiment?wait=false`, { text: 'new', id: 'named-9' });
    expect([named.status, named.body.code]).toEqual([429, 'queue_full']);
    const badNamed = await postJson(`${gateway.url}/v1/sentiment?wait=false`, { text: '', id: 'named-10' });
    expect([badNamed.status, badNamed.body.errors?.[0]?.field]).toEqual([422, 'text']);
    // Other routes are not refused for a full queue.
    expect((await getJson(`${gateway.url}/v1/jobs/t-named-0`)).status).toBe(200);
    expect(await redis.llen(`${prefix}:sentiment:wait`)).toBe(3);
    // Refusals before validation count as backpressure, like those of the enqueue.
    const metrics = String((await request(`${gateway.url}/metrics`, {})).body);
    const rejected = /^gateway_rejections_total\{[^}]*reason="backpressure"[^}]*\} (\d+)/m.exec(metrics);
    expect(Number(rejected?.[1])).toBeGreaterThanOrEqual(5);
  });

  it('lets concurrent requests take exactly the room left, never more', async () => {
    const ownPrefix = uniquePrefix('edges-concurrent');
    const concurrent = await startGateway({ QUEUE_PREFIX: ownPrefix, MAX_QUEUE_DEPTH: '5' });
    try {
      const statuses = await Promise.all(
        Array.from({ length: 24 }, async (_, i) => {
          const answer = await postJson(`${concurrent.url}/v1/sentiment?wait=false`, { text: `racer ${i}` });
          return answer.status;
        }),
      );
      expect(statuses.filter((status) => status === 202)).toHaveLength(5);
      expect(statuses.filter((status) => status === 429)).toHaveLength(19);
      expect(await redis.llen(`${ownPrefix}:sentiment:wait`)).toBe(5);
    } finally {
      await concurrent.stop();
      await deletePrefix(redis, ownPrefix);
    }
  });

  it('is not ready without a worker heartbeat', async () => {
    const response = await getJson(`${gateway.url}/health/ready`);
    expect(response.status).toBe(503);
    expect(response.body.details.workers.status).toBe('down');
    expect((await getJson(`${gateway.url}/health/live`)).status).toBe(200);
  });
});

describe('API keys', () => {
  let secured: AppProcess;
  beforeAll(async () => {
    secured = await startGateway({
      QUEUE_PREFIX: prefix,
      API_KEYS: `${API_KEY},second-key-0123456789`,
      SYNC_TIMEOUT_MS: '0',
    });
  });

  it.each([
    ['no key', {}],
    ['a wrong bearer key', { authorization: 'Bearer wrong-key-0123456789abcdef' }],
    ['a wrong x-api-key', { 'x-api-key': 'nope' }],
    ['a malformed authorization header', { authorization: API_KEY }],
  ])('refuses %s with 401', async (_name, headers) => {
    const response = await getJson(`${secured.url}/v1/jobs/anything`, headers as Record<string, string>);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(response.body.code).toBe('unauthorized');
  });

  it.each([
    ['Authorization: Bearer', { authorization: `Bearer ${API_KEY}` }],
    ['x-api-key', { 'x-api-key': 'second-key-0123456789' }],
  ])('accepts a valid key in %s', async (_name, headers) => {
    const response = await getJson(`${secured.url}/v1/jobs/anything`, headers);
    expect(response.status).toBe(404);
  });

  it('keeps health and metrics open and never logs the keys', async () => {
    expect((await request(`${secured.url}/metrics`, {})).status).toBe(200);
    expect((await getJson(`${secured.url}/health/live`)).status).toBe(200);
    expect(secured.logs()).not.toContain(API_KEY);
    expect(secured.logs()).toContain(
      'API keys required on /v1 (2 configured); admin routes are off (no ADMIN_API_KEYS)',
    );
  });

  it('says so when it runs without keys on loopback, and keeps the queue board off without admin keys', async () => {
    expect(gateway.logs()).toContain('no API_KEYS: /v1 is open on this loopback address only');
    const board = await request(`${gateway.url}/admin/queues`, {});
    expect(board.status).toBe(403);
    expect(board.body).toMatchObject({ code: 'forbidden' });
  });
});

describe('connections', () => {
  /** One GET /health/live on an open connection: the status line, or 'closed' when the server closed it. */
  const live = (socket: Socket) =>
    new Promise<string>((resolve) => {
      if (socket.destroyed) return resolve('closed');
      socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1').split('\r\n')[0]));
      socket.once('close', () => resolve('closed'));
      socket.write('GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    });

  it('keeps an idle keep-alive connection past Node’s 5 s, so a client pool reusing it is not reset', async () => {
    const { port } = new URL(gateway.url);
    const socket = await new Promise<Socket>((resolve) => {
      const opened: Socket = connect(Number(port), '127.0.0.1', () => resolve(opened));
    });
    try {
      expect(await live(socket)).toBe('HTTP/1.1 200 OK');
      await new Promise((resolve) => setTimeout(resolve, 7_000));
      expect(await live(socket)).toBe('HTTP/1.1 200 OK');
    } finally {
      socket.destroy();
    }
  }, 20_000);
});

describe('boot', () => {
  it('refuses to start on bad configuration, naming each variable', async () => {
    const app = spawnApp('gateway', { PORT: 'eighty', REDIS_URL: 'http://localhost', API_KEYS: 'short' });
    expect(await app.stop('SIGCONT')).toBe(1);
    expect(app.logs()).toContain('PORT must be an integer, got "eighty"');
    expect(app.logs()).toContain('REDIS_URL must be a redis:// or rediss:// URL, got "http://localhost"');
    expect(app.logs()).toContain(
      'API_KEYS holds "<tenant>:<key>" or bare keys, comma-separated: keys must be at least 16 characters',
    );
  });
});
