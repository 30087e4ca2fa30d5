import { connect } from 'node:net';
import type { Redis } from 'ioredis';
import { AppProcess, spawnApp, startGateway, startWorker, stopAll, waitFor } from './support/apps';
import { decodeExample, redisKeys } from '@reputation-monitor/contracts';
import { connectRedis, deletePrefix, uniquePrefix } from './support/redis';
import { getJson, postJson, request } from './support/http';

// Two tenants named in API_KEYS, one more key of acme's (rotation), and an admin.
const ACME_KEY = 'acme-key-0123456789abcdef';
const ACME_NEXT_KEY = 'acme-next-key-0123456789';
const GLOBEX_KEY = 'globex-key-0123456789abcd';
const ADMIN_KEY = 'ops-admin-key-0123456789';
const acme = { 'x-api-key': ACME_KEY };
const acmeNext = { authorization: `Bearer ${ACME_NEXT_KEY}` };
const globex = { 'x-api-key': GLOBEX_KEY };
const admin = { 'x-api-key': ADMIN_KEY };
const keys = {
  API_KEYS: `acme:${ACME_KEY},acme:${ACME_NEXT_KEY},globex:${GLOBEX_KEY}`,
  ADMIN_API_KEYS: `ops:${ADMIN_KEY}`,
};

const prefix = uniquePrefix('security');
let redis: Redis;
let gateway: AppProcess;

beforeAll(async () => {
  redis = connectRedis();
  await startWorker({ QUEUE_PREFIX: prefix });
  gateway = await startGateway({ QUEUE_PREFIX: prefix, SYNC_TIMEOUT_MS: '20000', ...keys });
});

afterAll(async () => {
  await stopAll();
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

describe('tenant isolation', () => {
  it("keeps each tenant's jobs, results and labels its own; another key gets what an unknown id gets", async () => {
    const mine = await postJson(`${gateway.url}/v1/sentiment`, { text: 'acme rocks', id: 'tweet-1' }, acme);
    expect(mine.status).toBe(200);
    const jobId = `acme~t-tweet-1`;

    // The same tenant through its second key sees it; the other tenant gets the unknown-id answer.
    expect((await getJson(`${gateway.url}/v1/jobs/${jobId}`, acmeNext)).body).toMatchObject({
      jobId,
      status: 'completed',
    });
    const theirs = await getJson(`${gateway.url}/v1/jobs/${jobId}`, globex);
    const unknown = await getJson(`${gateway.url}/v1/jobs/acme~t-never-made`, globex);
    expect(theirs.status).toBe(404);
    expect(theirs.body.code).toBe(unknown.body.code);
    expect(theirs.body.detail).toBe(unknown.body.detail.replace('acme~t-never-made', jobId));
    // Bare ids of the old scheme find nothing either.
    expect((await getJson(`${gateway.url}/v1/jobs/t-tweet-1`, globex)).status).toBe(404);

    // The same id with another text is globex's own job: no 409 that would say the id exists elsewhere.
    const same = await postJson(
      `${gateway.url}/v1/sentiment`,
      { text: 'globex is different', id: 'tweet-1' },
      globex,
    );
    expect(same.status).toBe(200);
    expect(same.body.id).toBe('tweet-1');

    // Labels: globex cannot label acme's prediction (not_found, as for an unknown id) ...
    const foreign = await postJson(
      `${gateway.url}/v1/feedback/batch`,
      {
        items: [
          { id: 'tweet-1', label: 'negative' },
          { id: 'nobody-has-this', label: 'negative' },
        ],
      },
      globex,
    );
    expect(foreign.status).toBe(200);
    // tweet-1 is globex's own prediction too now: its label lands on globex's, never on acme's.
    expect(foreign.body.results[1]).toEqual({ id: 'nobody-has-this', status: 'not_found' });
    const acmeLabel = await postJson(
      `${gateway.url}/v1/feedback`,
      { id: 'tweet-1', label: 'positive' },
      acme,
    );
    expect(acmeLabel.body).toMatchObject({ id: 'tweet-1', status: 'stored', label: 'positive' });
    expect(acmeLabel.body.example).toMatchObject({ status: 'stored' });
    // ... and the stored records are scoped: two labels, one per tenant.
    expect(await redis.exists(`${prefix}:feedback:acme/tweet-1`, `${prefix}:feedback:globex/tweet-1`)).toBe(
      2,
    );
  });

  it('refuses a reserved source at the edge', async () => {
    const spoof = await postJson(
      `${gateway.url}/v1/sentiment?wait=false`,
      { text: 'hide me from drift', source: 'drift-golden' },
      acme,
    );
    expect(spoof.status).toBe(422);
    expect(spoof.body.errors).toEqual([
      { field: 'source', message: '"drift-golden" is reserved for the system\'s own traffic' },
    ]);
    const batch = await postJson(
      `${gateway.url}/v1/sentiment/batch?wait=false`,
      { items: [{ text: 'x' }], source: 'drift-golden' },
      acme,
    );
    expect(batch.status).toBe(422);
    const example = await postJson(
      `${gateway.url}/v1/examples`,
      { text: 'x', label: 'neutral', source: 'drift-golden' },
      acme,
    );
    expect(example.status).toBe(422);
  });

  it("keeps each tenant's labelled examples its own: another tenant neither learns nor replaces a label", async () => {
    const text = 'a public post both tenants saw';
    const label = async (key: Record<string, string>, sentiment: string) =>
      (await postJson(`${gateway.url}/v1/examples`, { text, label: sentiment }, key)).body.status;
    expect(await label(acme, 'negative')).toBe('stored');
    // `duplicate` here would tell globex how acme labelled the text; `relabelled` would mean it replaced it.
    expect(await label(globex, 'negative')).toBe('stored');
    expect(await label(globex, 'positive')).toBe('relabelled');
    expect(await label(acmeNext, 'negative')).toBe('duplicate'); // acme's own, through its other key
    const pending = (await redis.hvals(redisKeys.examplesPending(prefix)))
      .map((value) => decodeExample(value))
      .flatMap((check) => (check.ok && check.example.text === text ? [check.example] : []));
    expect(pending.map((example) => [example.tenant, example.label]).sort()).toEqual([
      ['acme', 'negative'],
      ['globex', 'positive'],
    ]);
  });
});

describe('idempotency under concurrency', () => {
  it('lets exactly one of many concurrent requests with one id and different texts win; the others get 409', async () => {
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, index) =>
        postJson(`${gateway.url}/v1/sentiment?wait=false`, { text: `racer ${index}`, id: 'race-1' }, acme),
      ),
    );
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses.filter((status) => status === 202)).toHaveLength(1);
    expect(statuses.filter((status) => status === 409)).toHaveLength(11);
    const winner = answers.find((answer) => answer.status === 202)!;
    const job = await waitFor(
      async () => {
        const view = await getJson(`${gateway.url}/v1/jobs/${winner.body.jobId}`, acme);
        return view.body.status === 'completed' ? view.body : undefined;
      },
      20_000,
      'the winning job',
    );
    const stored = JSON.parse((await redis.hget(`${prefix}:sentiment:acme~t-race-1`, 'data')) ?? '{}');
    expect(job.results).toHaveLength(1);
    // The job holds the text of the one request that was told it won.
    const winnerIndex = answers.indexOf(winner);
    expect(stored.items[0].text).toBe(`racer ${winnerIndex}`);
  });
});

describe('roles', () => {
  it('keeps the queue board and the admin API from client keys', async () => {
    const basic = (key: string) => ({
      authorization: `Basic ${Buffer.from(`someone:${key}`).toString('base64')}`,
    });
    const board = await request(`${gateway.url}/admin/queues/api/queues`, { headers: basic(ACME_KEY) });
    expect(board.status).toBe(401);
    expect(board.headers.get('www-authenticate')).toMatch(/^Basic/);
    expect((await request(`${gateway.url}/admin/queues`, { headers: acme })).status).toBe(401);
    const asAdmin = await getJson(`${gateway.url}/admin/queues/api/queues`, basic(ADMIN_KEY));
    expect(asAdmin.status).toBe(200);

    const models = await getJson(`${gateway.url}/v1/admin/models`, acme);
    expect(models.status).toBe(403);
    expect(models.body.code).toBe('forbidden');
    const rollback = await postJson(`${gateway.url}/v1/admin/models/rollback`, { reason: 'x' }, acme);
    expect(rollback.status).toBe(403);
    expect((await getJson(`${gateway.url}/v1/admin/models/assignment`, admin)).status).toBe(200);
  });

  it('refuses a cross-site form post to the queue board even with the browser-cached admin login', async () => {
    const basic = `Basic ${Buffer.from(`ops:${ADMIN_KEY}`).toString('base64')}`;
    const before = await redis.llen(`${prefix}:sentiment:wait`);
    // What a browser sends for <form method=post action=".../add"> submitted from another site.
    const crossSite = await request(`${gateway.url}/admin/queues/api/queues/sentiment/add`, {
      method: 'POST',
      headers: {
        authorization: basic,
        origin: 'https://attacker.example',
        'sec-fetch-site': 'cross-site',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'name=classify&data=%7B%7D',
    });
    expect(crossSite.status).toBe(403);
    expect(crossSite.body.detail).toMatch(/cross-site request refused/);
    const pause = await request(`${gateway.url}/admin/queues/api/queues/sentiment/pause`, {
      method: 'PUT',
      headers: { authorization: basic, origin: 'https://attacker.example' },
    });
    expect(pause.status).toBe(403);
    expect(await redis.llen(`${prefix}:sentiment:wait`)).toBe(before);
    expect(await redis.hexists(`${prefix}:sentiment:meta`, 'paused')).toBe(0);

    // The board's own page (same origin) still acts.
    const sameOrigin = await request(`${gateway.url}/admin/queues/api/queues/sentiment/pause`, {
      method: 'PUT',
      headers: { authorization: basic, origin: gateway.url, 'sec-fetch-site': 'same-origin' },
    });
    expect(sameOrigin.status).toBe(200);
    expect(await redis.hexists(`${prefix}:sentiment:meta`, 'paused')).toBe(1);
    await request(`${gateway.url}/admin/queues/api/queues/sentiment/resume`, {
      method: 'PUT',
      headers: { authorization: basic },
    });
    expect(await redis.hexists(`${prefix}:sentiment:meta`, 'paused')).toBe(0);
  });
});

describe('hostile bodies', () => {
  it.each([
    ['20 KB of nested arrays', `{"text":${'['.repeat(10_000)}${']'.repeat(10_000)}}`],
    ['20 KB of nested objects', `${'{"a":'.repeat(4_000)}1${'}'.repeat(4_000)}`],
    ['300k batch items', `{"items":[${'{"text":"a"},'.repeat(300_000)}{"text":"a"}]}`],
    // class-transformer's walk of an object grows with the square of its members: 100k held the loop for 11 s.
    [
      'an item with 100k members',
      `{"items":[{"text":"a",${Array.from({ length: 100_000 }, (_, i) => `"k${i}":1`).join(',')}}]}`,
    ],
  ])('refuses %s with 413 before validating anything', async (_name, body) => {
    const started = performance.now();
    const response = await request(`${gateway.url}/v1/sentiment/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...acme },
      body,
    });
    expect(response.status).toBe(413);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.body.code).toBe('json_too_complex');
    // Not a timing assertion on the app: a bound that only an unbounded loop would cross.
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(gateway.child.exitCode).toBeNull();
  });
});

/** Sends raw bytes and resolves with everything the server answers before it closes. */
function rawExchange(url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(bytes));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.setTimeout(5_000, () => socket.destroy(new Error('no answer within 5 s')));
  });
}

describe('requests Node refuses before the app runs', () => {
  it.each([
    [
      'a header with a space in its name',
      'GET /health/live HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n',
      400,
    ],
    [
      'headers over the size limit',
      `GET /v1/jobs/x HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      431,
    ],
    [
      'an unsupported Expect',
      'POST /v1/sentiment HTTP/1.1\r\nHost: x\r\nExpect: magic\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
      417,
    ],
  ])('answers %s with a problem+json', async (_name, bytes, status) => {
    const answer = await rawExchange(gateway.url, bytes);
    const [head, body] = answer.split('\r\n\r\n');
    expect(head).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
    expect(head.toLowerCase()).toContain('content-type: application/problem+json');
    expect(JSON.parse(body)).toMatchObject({ status, code: expect.any(String) });
    expect(gateway.child.exitCode).toBeNull();
  });
});

describe('before the body is read', () => {
  it('refuses a request without a valid key with 401, whatever its body', async () => {
    const response = await request(`${gateway.url}/v1/sentiment/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'not-a-key-0123456789' },
      body: '{"items": [' + '{"text":"x"},'.repeat(100_000) + '{"text":"x"}]}',
    });
    expect(response.status).toBe(401);
    expect(response.body.code).toBe('unauthorized');
    // Malformed JSON without a key is a 401 too: nothing is parsed for an anonymous caller.
    const malformed = await request(`${gateway.url}/v1/sentiment`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"text":',
    });
    expect(malformed.status).toBe(401);
    // Nor outside /v1, where no route takes a body: malformed JSON is not even parsed (404, not 400).
    for (const path of ['/health/live', '/no-such-route']) {
      const outside = await request(`${gateway.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"text":',
      });
      expect({ path, status: outside.status, code: outside.body.code }).toEqual({
        path,
        status: 404,
        code: 'not_found',
      });
    }
  });

  it('refuses JSON in a charset other than UTF-8 with 415', async () => {
    const response = await request(`${gateway.url}/v1/sentiment`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-16be', ...acme },
      body: Buffer.from('{"text":"x"}', 'utf16le').swap16(),
    });
    expect(response.status).toBe(415);
    expect(response.body.detail).toBe('send JSON as UTF-8 (got charset utf-16be)');
    const utf8 = await request(`${gateway.url}/v1/sentiment?wait=false`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=UTF-8', ...acme },
      body: '{"text":"fine"}',
    });
    expect(utf8.status).toBe(202);
  });
});

describe('rate limits', () => {
  let replicas: AppProcess[];
  const limited = uniquePrefix('ratelimit');

  beforeAll(async () => {
    const env = { QUEUE_PREFIX: limited, SYNC_TIMEOUT_MS: '0', RATE_LIMIT_PER_MINUTE: '4', ...keys };
    replicas = await Promise.all([startGateway(env), startGateway(env)]);
  });

  afterAll(async () => {
    await Promise.all(replicas.map((replica) => replica.stop()));
    await deletePrefix(redis, limited);
  });

  it('counts one budget per key across replicas; over it: 429 rate_limited with Retry-After', async () => {
    const send = (replica: AppProcess, headers: Record<string, string>) =>
      postJson(`${replica.url}/v1/sentiment?wait=false`, { text: 'count me' }, headers);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await send(replicas[i % 2], acme)).status);
    expect(statuses).toEqual([202, 202, 202, 202]);
    // acme's two keys share acme's budget; the fifth request on either replica is refused.
    const over = await send(replicas[1], acmeNext);
    expect(over.status).toBe(429);
    expect(over.body.code).toBe('rate_limited');
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another tenant has its own budget; health and metrics are never limited.
    expect((await send(replicas[0], globex)).status).toBe(202);
    expect((await getJson(`${replicas[1].url}/health/live`)).status).toBe(200);
    const metrics = await request(`${replicas[1].url}/metrics`, {});
    expect(metrics.body).toMatch(/^gateway_rejections_total\{[^}]*reason="rate_limit"[^}]*\} 1$/m);
  });
});

describe('auth by default', () => {
  it('refuses to serve without keys on an address other machines reach', async () => {
    const app = spawnApp('gateway', { HOST: '0.0.0.0', PORT: '0', QUEUE_PREFIX: prefix });
    expect(await app.stop('SIGCONT')).toBe(1);
    expect(app.logs()).toContain('HOST=0.0.0.0 is reachable from other machines and API_KEYS is not set');
  });

  it('serves without keys with AUTH=off, and says so at start and in readiness', async () => {
    const open = await startGateway({ QUEUE_PREFIX: prefix, HOST: '0.0.0.0', AUTH: 'off' });
    expect(open.logs()).toContain('AUTH=off: /v1 is open to anyone who can reach this port');
    const ready = await getJson(`${open.url}/health/ready`);
    expect(ready.body.info.auth).toEqual({ status: 'up', mode: 'off' });
    // Without admin keys the admin surface is off, not open.
    expect((await request(`${open.url}/admin/queues`, {})).status).toBe(403);
    expect((await getJson(`${open.url}/v1/admin/models`)).status).toBe(403);
    await open.stop();
  });

  it('never logs a key', () => {
    for (const key of [ACME_KEY, ACME_NEXT_KEY, GLOBEX_KEY, ADMIN_KEY])
      expect(gateway.logs()).not.toContain(key);
    expect(gateway.logs()).toContain('API keys required on /v1 (3 configured)');
  });
});
