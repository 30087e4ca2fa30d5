import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import Ajv2020 from 'ajv/dist/2020';
import { AppProcess, startGateway, startWorker, stopAll } from './support/apps';
import { getJson } from './support/http';
import { REDIS_URL, WORKSPACE_ROOT } from './support/paths';
import { connectRedis, deletePrefix, uniquePrefix } from './support/redis';

// The published packages as another service gets them: built by Nx, packed by npm, installed from the tarballs into
// an empty project outside the workspace (so nothing resolves through the workspace's node_modules or its path
// aliases), then used against a running gateway and worker. A second producer writes a job with plain bullmq.

const run = promisify(execFile);
const prefix = uniquePrefix('producer-package');
/** No worker consumes this prefix: jobs stay waiting (queue full, timeout). */
const idlePrefix = `${prefix}-idle`;
const BILLING_KEY = 'e2e-billing-key-0123456789';
const PACKAGES = ['contracts', 'redis-connection', 'producer-client'] as const;
const dist = (name: string) => join(WORKSPACE_ROOT, 'dist/libs', name);

let redis: Redis;
let gateway: AppProcess;
let project: string;
const tarballs: Record<string, { file: string; files: string[] }> = {};
const timings: Record<string, number> = {};

/** Runs a command with a bound on its time; npm's own variables of the jest process are not passed on. */
async function sh(
  file: string,
  args: string[],
  cwd: string,
  timeoutMs: number,
  env: Record<string, string> = {},
) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
  try {
    return await run(file, args, {
      cwd,
      timeout: timeoutMs,
      maxBuffer: 32 * 1024 * 1024,
      env: { ...clean, ...env },
    });
  } catch (error) {
    const failed = error as Error & { stdout?: string; stderr?: string };
    throw new Error(
      `${file} ${args.join(' ')} failed: ${failed.message}\n${failed.stdout ?? ''}\n${failed.stderr ?? ''}`,
    );
  }
}

async function timed<T>(what: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await work();
  } finally {
    timings[what] = Date.now() - started;
  }
}

/** Builds the packages with Nx, packs them and installs the tarballs (and bullmq) into a new project. */
async function installPackages(): Promise<void> {
  const nx = join(WORKSPACE_ROOT, 'node_modules/.bin/nx');
  await timed('nx build', () =>
    sh(
      nx,
      ['run-many', '-t', 'build', '-p', PACKAGES.join(','), '--output-style=static'],
      WORKSPACE_ROOT,
      120_000,
      {
        NX_DAEMON: 'false',
        NX_NO_CLOUD: 'true',
      },
    ),
  );
  project = mkdtempSync(join(tmpdir(), 'rm-producer-package-'));
  const packs = join(project, 'tarballs');
  mkdirSync(packs);
  await timed('npm pack', async () => {
    for (const name of PACKAGES) {
      const { stdout } = await sh(
        'npm',
        ['pack', dist(name), '--pack-destination', packs, '--json'],
        project,
        30_000,
      );
      const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
      tarballs[name] = {
        file: join(packs, packed.filename),
        files: packed.files.map((file) => file.path).sort(),
      };
    }
  });
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'consumer', version: '0.0.0', private: true }),
  );
  const bullmq = JSON.parse(
    readFileSync(join(WORKSPACE_ROOT, 'node_modules/bullmq/package.json'), 'utf8'),
  ).version;
  // Dependencies come from the registry through npm's cache (already warm from the workspace's install).
  await timed('npm install', () =>
    sh(
      'npm',
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
        '--loglevel=error',
        tarballs.contracts.file,
        tarballs['redis-connection'].file,
        tarballs['producer-client'].file,
        `bullmq@${bullmq}`,
      ],
      project,
      75_000,
    ),
  );
}

beforeAll(async () => {
  redis = connectRedis();
  const started = Date.now();
  await Promise.all([
    installPackages(),
    (async () => {
      await startWorker({ QUEUE_PREFIX: prefix });
      gateway = await startGateway({ QUEUE_PREFIX: prefix, API_KEYS: `billing:${BILLING_KEY}` });
    })(),
  ]);
  timings['setup (parallel)'] = Date.now() - started;
}, 150_000);

afterAll(async () => {
  console.log(`producer-package timings (ms): ${JSON.stringify(timings)}`);
  await stopAll();
  await deletePrefix(redis, prefix);
  await deletePrefix(redis, idlePrefix);
  redis.disconnect();
  if (project) rmSync(project, { recursive: true, force: true });
});

const installed = (name: string) => join(project, 'node_modules/@reputation-monitor', name);
const schema = (file: string) =>
  JSON.parse(readFileSync(join(installed('contracts'), 'schema', file), 'utf8')) as Record<string, unknown>;
const validator = (file: string) => new Ajv2020({ strict: true, allErrors: true }).compile(schema(file));

/** Runs a script of the temporary project with the stack's Redis and prefixes; its stdout. */
async function node(script: string, ...args: string[]): Promise<string> {
  const { stdout } = await sh(process.execPath, [script, ...args], project, 40_000, {
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    IDLE_PREFIX: idlePrefix,
  });
  return stdout.trim();
}

describe('the built packages', () => {
  it('hold only the compiled library, its types, the schemas and docs: no specs, sources or app code', () => {
    for (const name of PACKAGES) {
      const files = tarballs[name].files;
      expect(files).toContain('package.json');
      expect(files).toContain('README.md');
      expect(files).toContain('src/index.js');
      expect(files).toContain('src/index.d.ts');
      expect(
        files.filter(
          (file) =>
            !/^(package\.json|README\.md|CHANGELOG\.md|src\/[\w-]+\.(js|d\.ts)|schema\/[\w.-]+\.schema\.json)$/.test(
              file,
            ),
        ),
      ).toEqual([]);
      expect(files.filter((file) => /spec|\.ts$/.test(file) && !file.endsWith('.d.ts'))).toEqual([]);
    }
    expect(tarballs.contracts.files).toEqual(
      expect.arrayContaining([
        'schema/sentiment.classify.payload.v1.schema.json',
        'schema/sentiment.classify.result.v1.schema.json',
      ]),
    );
  });

  it('make producer-client depend on contracts and redis-connection as packages, at their exact version, never by a path', () => {
    const contracts = JSON.parse(readFileSync(join(dist('contracts'), 'package.json'), 'utf8'));
    const connection = JSON.parse(readFileSync(join(dist('redis-connection'), 'package.json'), 'utf8'));
    const client = JSON.parse(readFileSync(join(dist('producer-client'), 'package.json'), 'utf8'));
    expect(client.dependencies['@reputation-monitor/contracts']).toBe(contracts.version);
    expect(client.dependencies['@reputation-monitor/redis-connection']).toBe(connection.version);
    expect(contracts.dependencies ?? {}).toEqual({});
    expect(Object.keys(connection.dependencies)).toEqual(['ioredis']);
    // Every import of the built code is relative, a Node builtin or a declared dependency.
    for (const [name, pkg] of [
      ['contracts', contracts],
      ['redis-connection', connection],
      ['producer-client', client],
    ] as const) {
      const dir = join(dist(name), 'src');
      const specifiers = readdirSync(dir)
        .filter((file) => /\.(js|d\.ts)$/.test(file))
        .flatMap((file) =>
          [
            ...readFileSync(join(dir, file), 'utf8').matchAll(
              /(?:require\(|from |import\()\s*["']([^"']+)["']/g,
            ),
          ].map((match) => match[1]),
        );
      const external = [
        ...new Set(specifiers.filter((spec) => !spec.startsWith('./') && !spec.startsWith('node:'))),
      ];
      expect(external.sort()).toEqual(Object.keys(pkg.dependencies ?? {}).sort());
    }
    // In the installed project, the client's contracts is the installed package.
    const resolveFrom = `console.log(require.resolve('@reputation-monitor/contracts', { paths: [${JSON.stringify(installed('producer-client'))}] }))`;
    return sh(process.execPath, ['-e', resolveFrom], project, 10_000).then(({ stdout }) => {
      expect(stdout.trim()).toBe(join(installed('contracts'), 'src/index.js'));
    });
  });
});

describe('an empty project with the packages installed', () => {
  /** The README's example, verbatim: the first ts block of "Producing from another service". */
  function readmeExample(): string {
    const readme = readFileSync(join(WORKSPACE_ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Producing from another service'));
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    if (!block) throw new Error('README.md has no ts example under "Producing from another service"');
    return block;
  }

  beforeAll(async () => {
    const example = readmeExample();
    expect(example.trim().split('\n').length).toBeLessThanOrEqual(12);
    writeFileSync(join(project, 'example.mts'), example);
    writeFileSync(
      join(project, 'errors.mts'),
      `import { ErrorCode, type ClassifyJobResult } from '@reputation-monitor/contracts';
import {
  InvalidRequestError,
  ProducerError,
  QueueFullError,
  ResultTimeoutError,
  SentimentProducer,
} from '@reputation-monitor/producer-client';

// The types are the packages' own, not any: these lines only compile against the real declarations.
// @ts-expect-error a label is one of three names
const wrong: (result: ClassifyJobResult) => 'happy' = (result) => result.predictions[0].label;
void wrong;

const producer = new SentimentProducer({
  redisUrl: process.env.REDIS_URL!,
  prefix: process.env.IDLE_PREFIX!,
  maxQueueDepth: 1,
  depthCacheMs: 0,
});
await producer.ready();
const caught = (work: () => Promise<unknown>): Promise<unknown> => work().then(() => undefined, (error) => error);
const summary = (error: unknown) => ({
  class: (error as Error).constructor.name,
  producerError: error instanceof ProducerError,
  code: (error as ProducerError).code,
  ...(error instanceof InvalidRequestError && { fields: error.errors.map((item) => item.field) }),
  ...(error instanceof QueueFullError && { depth: error.depth, limit: error.limit, retryAfterSeconds: error.retryAfterSeconds }),
  ...(error instanceof ResultTimeoutError && { timeoutMs: error.timeoutMs }),
});
const invalid = await caught(() => producer.enqueue([{ text: '  ' }, { text: 'x'.repeat(5_001) }]));
const { jobId } = await producer.enqueue([{ text: 'nobody takes this one' }]);
const full = await caught(() => producer.enqueue([{ text: 'one too many' }]));
const timeout = await caught(() => producer.waitForResult(jobId, 300));
console.log(JSON.stringify({
  codes: [ErrorCode.ValidationFailed, ErrorCode.QueueFull, ErrorCode.ServiceUnavailable],
  invalid: summary(invalid),
  full: summary(full),
  timeout: summary(timeout),
}));
await producer.close();
`,
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          strict: true,
          outDir: 'out',
          skipLibCheck: true,
          types: ['node'],
          typeRoots: [join(WORKSPACE_ROOT, 'node_modules/@types')],
        },
        files: ['example.mts', 'errors.mts'],
      }),
    );
    // Type-checks both scripts against the installed declarations (exports, types) and emits them.
    await timed('tsc', () =>
      sh(
        process.execPath,
        [join(WORKSPACE_ROOT, 'node_modules/typescript/bin/tsc'), '-p', '.'],
        project,
        60_000,
      ),
    );
  }, 90_000);

  it("runs the README's example: a text classified, the result read back, the job as the schema says", async () => {
    const output = await timed('example', () => node('out/example.mjs'));
    expect(output).toMatch(/^(negative|neutral|positive) fp32-[0-9a-f]{12}$/);
    // What the installed producer stored is a payload the shipped schema accepts.
    const data = await redis.hget(`${prefix}:sentiment:alerts~t-tweet-1`, 'data');
    const payload = validator('sentiment.classify.payload.v1.schema.json');
    expect(payload(JSON.parse(data ?? 'null'))).toBe(true);
    expect(JSON.parse(data ?? '{}')).toMatchObject({ v: 1, tenant: 'alerts', items: [{ id: 'tweet-1' }] });
  });

  it('gets the typed errors as documented: validation, queue full, timeout', async () => {
    const report = JSON.parse(await timed('errors', () => node('out/errors.mjs')));
    expect(report).toEqual({
      codes: ['validation_failed', 'queue_full', 'service_unavailable'],
      invalid: {
        class: 'InvalidRequestError',
        producerError: true,
        code: 'validation_failed',
        fields: ['items[0].text', 'items[1].text'],
      },
      full: {
        class: 'QueueFullError',
        producerError: true,
        code: 'queue_full',
        depth: 1,
        limit: 1,
        retryAfterSeconds: 2,
      },
      timeout: {
        class: 'ResultTimeoutError',
        producerError: true,
        code: 'service_unavailable',
        timeoutMs: 300,
      },
    });
  });

  it('lets a plain bullmq producer enqueue a hand-written JSON payload that the worker completes', async () => {
    // Written by hand, as a service in another language would: only the JSON contract, no TypeScript types.
    const payloadText = `{
  "v": 1,
  "items": [
    { "id": "plain-1", "text": "The new release fixed every crash, great work" },
    { "id": "plain-2", "text": "  Support closed my ticket without an answer  " }
  ],
  "source": "plain-bullmq",
  "tenant": "billing",
  "requestId": "plain-bullmq:1",
  "enqueuedAt": ${Date.now()}
}`;
    const payload = JSON.parse(payloadText);
    expect(validator('sentiment.classify.payload.v1.schema.json')(payload)).toBe(true);
    writeFileSync(join(project, 'payload.json'), payloadText);
    writeFileSync(
      join(project, 'plain.cjs'),
      `const { readFileSync } = require('node:fs');
const { Queue, QueueEvents } = require('bullmq');

async function main() {
  const url = new URL(process.env.REDIS_URL);
  const connection = { host: url.hostname, port: Number(url.port || 6379) };
  const prefix = process.env.QUEUE_PREFIX;
  const queue = new Queue('sentiment', { connection, prefix });
  const events = new QueueEvents('sentiment', { connection, prefix });
  await events.waitUntilReady();
  const job = await queue.add('classify', JSON.parse(readFileSync(process.argv[2], 'utf8')), {
    jobId: process.argv[3],
    attempts: 3,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: { age: 3600, count: 100000 },
    removeOnFail: { age: 604800, count: 10000 },
  });
  const result = await job.waitUntilFinished(events, 20000);
  console.log(JSON.stringify(result));
  await events.close();
  await queue.close();
}
main().catch((error) => {
  console.error(error);
  process.exit(1);
});
`,
    );
    const jobId = 'billing~plain-batch-1';
    const result = JSON.parse(await timed('plain bullmq', () => node('plain.cjs', 'payload.json', jobId)));
    expect(validator('sentiment.classify.result.v1.schema.json')(result)).toBe(true);
    expect(result.predictions.map((prediction: { id: string }) => prediction.id)).toEqual([
      'plain-1',
      'plain-2',
    ]);
    // The gateway serves it to the job's tenant like any other job.
    const view = await getJson(`${gateway.url}/v1/jobs/${encodeURIComponent(jobId)}`, {
      'x-api-key': BILLING_KEY,
    });
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({ jobId, status: 'completed', items: 2, model: result.model });
    expect(view.body.results).toEqual(result.predictions);
  });
});
