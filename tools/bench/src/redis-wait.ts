/**
 * `npm run bench:redis-wait`: what confirming every enqueue on a replica costs (REDIS_WAIT_REPLICAS, Redis WAIT on
 * the producer's connection, shared by concurrent enqueues). A primary and a replica of the bench's own
 * (redis-server on loopback ports), the real SentimentProducer, enqueues with WAIT off and on, interleaved round by
 * round so both see the same machine; no worker (the enqueue is what WAIT lengthens). Prints latency percentiles,
 * throughput and WAITs sent per enqueue, and the medians over rounds. With --http the same through two built
 * gateways (REDIS_WAIT_REPLICAS=0 and auto; `POST /v1/sentiment?wait=false`, answered 202 after the enqueue).
 *   npm run bench:redis-wait -- [--enqueues 2000] [--concurrency 1,16,64] [--rounds 3] [--http]
 */
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import IORedis from 'ioredis';
import {
  APP_ENTRY,
  AppProcess,
  RedisServer,
  freePort,
  startGateway,
  stopAll,
  waitFor,
} from '@reputation-monitor/app-harness';
import { SentimentProducer } from '@reputation-monitor/producer-client';
import { percentile } from './stats';

const { values } = parseArgs({
  options: {
    enqueues: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '1,16,64' },
    rounds: { type: 'string', default: '3' },
    http: { type: 'boolean', default: false },
  },
});
const ROOT = resolve(__dirname, '../../..');
const enqueues = Number(values.enqueues);
const rounds = Number(values.rounds);
const levels = values.concurrency.split(',').map(Number);
if (![enqueues, rounds, ...levels].every((value) => Number.isInteger(value) && value >= 1)) {
  console.error('--enqueues, --rounds and every --concurrency level must be positive integers');
  process.exit(1);
}

interface Run {
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
  waitsPerEnqueue: number;
}

/** `concurrency` callers doing `count` operations in all, the latency of each timed. */
async function drive(
  concurrency: number,
  count: number,
  operation: (n: number) => Promise<void>,
): Promise<{ latencies: number[]; seconds: number }> {
  let next = 0;
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const n = next++;
        const begun = performance.now();
        await operation(n);
        latencies.push(performance.now() - begun);
      }
    }),
  );
  return { latencies: latencies.sort((a, b) => a - b), seconds: (performance.now() - started) / 1000 };
}

function runOf(latencies: number[], seconds: number, waitsPerEnqueue: number): Run {
  return {
    perSecond: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    waitsPerEnqueue,
  };
}

/** Async requests to a gateway: 202 once the job is enqueued (and, with WAIT, confirmed on the replica). */
async function measureHttp(gateway: AppProcess, concurrency: number): Promise<Run> {
  const post = async (n: number) => {
    const response = await fetch(`${gateway.url}/v1/sentiment?wait=false`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: `bench text ${n}: the support team was quick and friendly` }),
    });
    await response.arrayBuffer();
    if (response.status !== 202) throw new Error(`the gateway answered ${response.status}`);
  };
  await drive(concurrency, Math.min(200, enqueues), post);
  const { latencies, seconds } = await drive(concurrency, enqueues, post);
  return runOf(latencies, seconds, Number.NaN);
}

async function measure(url: string, waitReplicas: 0 | 1, concurrency: number, round: number): Promise<Run> {
  const producer = new SentimentProducer({
    redis: { url, waitReplicas, waitTimeoutMs: 1_000 },
    prefix: `bench-wait-${waitReplicas}-${concurrency}-${round}`,
  });
  await producer.ready();
  try {
    const enqueue = async (n: number) => {
      await producer.enqueue([{ text: `bench text ${n}: the support team was quick and friendly` }]);
    };
    await drive(concurrency, Math.min(200, enqueues), enqueue); // connections, scripts, the replica reading
    const before = producer.replicaWaitStats;
    const { latencies, seconds } = await drive(concurrency, enqueues, enqueue);
    const after = producer.replicaWaitStats;
    return runOf(latencies, seconds, (after.waits - before.waits) / (after.confirms - before.confirms));
  } finally {
    await producer.close();
  }
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function main(): Promise<void> {
  const primary = new RedisServer({ port: await freePort(), args: ['--repl-diskless-sync-delay', '0'] });
  const replica = new RedisServer({
    port: await freePort(),
    replicaOf: { host: '127.0.0.1', port: primary.port },
  });
  let admin: IORedis | undefined;
  try {
    await primary.start();
    await replica.start();
    const connection = new IORedis(primary.url, { maxRetriesPerRequest: 1 });
    admin = connection;
    await waitFor(
      async () => (/slave0:.*state=online/.test(await connection.info('replication')) ? true : undefined),
      15_000,
      'the replica to sync',
    );
    const gateways = new Map<0 | 1, AppProcess>();
    if (values.http) {
      if (!existsSync(join(ROOT, APP_ENTRY.gateway)))
        throw new Error('build the gateway first (npx nx build gateway)');
      for (const wait of [0, 1] as const) {
        const gateway = await startGateway({
          workspaceRoot: ROOT,
          redisUrl: primary.url,
          env: {
            HOST: '127.0.0.1',
            QUEUE_PREFIX: `bench-wait-http-${wait}`,
            REDIS_WAIT_REPLICAS: wait ? 'auto' : '0',
            SYNC_TIMEOUT_MS: '0',
            MAX_QUEUE_DEPTH: '0',
            RATE_LIMIT_PER_MINUTE: '0',
            LOG_LEVEL: 'warn',
          },
        });
        gateways.set(wait, gateway);
      }
    }
    console.log(
      `primary and replica on loopback; ${cpus().length} cores, load ${loadavg()[0].toFixed(2)}; ` +
        `${enqueues} ${values.http ? 'requests to a gateway' : 'enqueues'} per run, ${rounds} round(s)`,
    );
    const results = new Map<string, Run[]>();
    for (let round = 1; round <= rounds; round += 1) {
      for (const concurrency of levels) {
        for (const wait of [0, 1] as const) {
          const gateway = gateways.get(wait);
          const run = gateway
            ? await measureHttp(gateway, concurrency)
            : await measure(primary.url, wait, concurrency, round);
          const key = `${concurrency}|${wait}`;
          results.set(key, [...(results.get(key) ?? []), run]);
          // The gateways keep their own prefixes (no worker: their jobs just wait, MAX_QUEUE_DEPTH=0).
          if (!gateway) await connection.flushall();
          console.log(
            `  round ${round}, ${concurrency} in flight, WAIT ${wait ? 'on ' : 'off'}: ` +
              `${run.perSecond.toFixed(0)}/s, p50 ${run.p50.toFixed(2)} ms, p99 ${run.p99.toFixed(2)} ms` +
              (gateway ? '' : `, ${run.waitsPerEnqueue.toFixed(3)} WAITs per enqueue`),
          );
        }
      }
    }
    console.log(`\nmedians over ${rounds} round(s):`);
    console.log(
      `| in flight | WAIT | ${values.http ? 'requests' : 'enqueues'}/s | p50 ms | p95 ms | p99 ms | WAITs per enqueue | p50 added by WAIT |`,
    );
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const concurrency of levels) {
      const of = (wait: number, field: keyof Run) =>
        median((results.get(`${concurrency}|${wait}`) ?? []).map((run) => run[field]));
      for (const wait of [0, 1]) {
        const added = wait ? `${(of(1, 'p50') - of(0, 'p50')).toFixed(2)} ms` : '';
        console.log(
          `| ${concurrency} | ${wait ? 'on (1 replica)' : 'off'} | ${of(wait, 'perSecond').toFixed(0)} | ` +
            `${of(wait, 'p50').toFixed(2)} | ${of(wait, 'p95').toFixed(2)} | ${of(wait, 'p99').toFixed(2)} | ` +
            `${values.http ? '-' : of(wait, 'waitsPerEnqueue').toFixed(3)} | ${added} |`,
        );
      }
    }
  } finally {
    await stopAll();
    admin?.disconnect();
    await replica.kill();
    await primary.kill();
  }
}

main().catch((error: Error) => {
  console.error(error.stack ?? error.message);
  process.exit(1);
});
