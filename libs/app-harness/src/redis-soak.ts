import { Agent, request } from 'node:http';
import IORedis from 'ioredis';
import { AppProcess, freePort, startGateway, startWorker } from './processes';
import { RedisServer } from './redis-server';
import { Footprint, measureFootprint, ringEntries, usedMemory } from './redis-memory';

/**
 * A soak of the whole serving path against a Redis of its own: a gateway and an inference worker (the
 * built apps), closed-loop HTTP load from loopback (single texts and batches, every text distinct, so the
 * result cache only ever misses and fills), and `INFO memory` sampled as it runs. What `npm run soak` and
 * the e2e suite `redis-memory-soak` run.
 */
export interface SoakOptions {
  workspaceRoot: string;
  modelDir: string;
  /** How long the load runs at most. */
  durationMs: number;
  /** Ends the load early once this returns true for the samples so far. */
  stopWhen?: (samples: readonly SoakSample[]) => boolean;
  /** One sample every this many ms. */
  sampleMs: number;
  /** Concurrent clients sending one text per request, and clients sending `batchSize` texts per request. */
  singles: number;
  batches: number;
  batchSize: number;
  /** Texts to cycle through; each use gets a counter appended, so no two requests carry the same text. */
  texts: readonly string[];
  /** Settings of the worker and the gateway (QUEUE_PREFIX, REDIS_URL and the ports are the soak's). */
  workerEnv?: Record<string, string>;
  gatewayEnv?: Record<string, string>;
  /** Called with every sample as it is taken. */
  onSample?: (sample: SoakSample) => void;
}

export interface SoakSample {
  /** Seconds since the load started. */
  seconds: number;
  usedMemory: number;
  /** Texts answered (HTTP 200) so far. */
  texts: number;
  completedJobs: number;
  streamEntries: number;
  indexEntries: number;
  cacheEntries: number;
  eventsEntries: number;
}

export interface SoakResult {
  /** used_memory with the apps connected and nothing served yet. */
  baselineMemory: number;
  samples: SoakSample[];
  /** Requests by HTTP status (0: the request failed). */
  statuses: Record<string, number>;
  texts: number;
  seconds: number;
  /** Every key family at the end, measured before the apps stop. */
  footprint: Footprint;
}

export const SOAK_PREFIX = 'soak';

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const redisServer = new RedisServer({ port: await freePort() });
  await redisServer.start();
  const redis = new IORedis(redisServer.url, { maxRetriesPerRequest: 3 });
  const apps: AppProcess[] = [];
  const launch = { workspaceRoot: options.workspaceRoot, redisUrl: redisServer.url };
  try {
    apps.push(
      await startWorker({
        ...launch,
        env: {
          QUEUE_PREFIX: SOAK_PREFIX,
          MODEL_DIR: options.modelDir,
          INTRA_OP_THREADS: '1',
          LOG_LEVEL: 'warn',
          ...options.workerEnv,
        },
      }),
    );
    const gateway = await startGateway({
      ...launch,
      env: { QUEUE_PREFIX: SOAK_PREFIX, SYNC_TIMEOUT_MS: '60000', LOG_LEVEL: 'warn', ...options.gatewayEnv },
    });
    apps.push(gateway);
    const baselineMemory = await usedMemory(redis);

    const load = new Load(gateway.url, options);
    const started = performance.now();
    const samples: SoakSample[] = [];
    const sample = async (): Promise<void> => {
      const [memory, completedJobs, streamEntries, eventsEntries, indexEntries, cacheEntries] =
        await Promise.all([
          usedMemory(redis),
          redis.zcard(`${SOAK_PREFIX}:sentiment:completed`),
          redis.xlen(`${SOAK_PREFIX}:predictions`),
          redis.xlen(`${SOAK_PREFIX}:sentiment:events`),
          ringEntries(redis, `${SOAK_PREFIX}:prediction-index`),
          ringEntries(redis, `${SOAK_PREFIX}:result-cache`),
        ]);
      const taken: SoakSample = {
        seconds: Math.round((performance.now() - started) / 100) / 10,
        usedMemory: memory,
        texts: load.texts,
        completedJobs,
        streamEntries,
        indexEntries,
        cacheEntries,
        eventsEntries,
      };
      samples.push(taken);
      options.onSample?.(taken);
    };
    const running = load.run(started + options.durationMs);
    while (performance.now() - started < options.durationMs && !load.stopped) {
      await new Promise((resolve) => setTimeout(resolve, options.sampleMs));
      await sample();
      if (options.stopWhen?.(samples)) load.stop();
    }
    await running;
    await sample();
    const footprint = await measureFootprint(redis, SOAK_PREFIX);
    return {
      baselineMemory,
      samples,
      statuses: load.statuses,
      texts: load.texts,
      seconds: (performance.now() - started) / 1000,
      footprint,
    };
  } finally {
    await Promise.all(apps.map((app) => app.stop('SIGKILL')));
    redis.disconnect();
    await redisServer.kill();
  }
}

/** Closed-loop clients: each sends its next request as soon as the previous one is answered. */
class Load {
  texts = 0;
  stopped = false;
  readonly statuses: Record<string, number> = {};
  private next = 0;
  private readonly agent: Agent;

  constructor(
    private readonly url: string,
    private readonly options: SoakOptions,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: options.singles + options.batches });
  }

  stop(): void {
    this.stopped = true;
  }

  async run(until: number): Promise<void> {
    const client = async (size: number) => {
      while (performance.now() < until && !this.stopped) {
        const texts = Array.from({ length: size }, () => this.text());
        const body =
          size === 1
            ? { text: texts[0], source: 'soak' }
            : { items: texts.map((text) => ({ text })), source: 'soak' };
        const status = await this.post(size === 1 ? '/v1/sentiment' : '/v1/sentiment/batch', body);
        this.statuses[status] = (this.statuses[status] ?? 0) + 1;
        if (status === 200) this.texts += size;
        else await new Promise((resolve) => setTimeout(resolve, 100)); // refused or failed: do not spin
      }
    };
    await Promise.all([
      ...Array.from({ length: this.options.singles }, () => client(1)),
      ...Array.from({ length: this.options.batches }, () => client(this.options.batchSize)),
    ]);
    this.agent.destroy();
  }

  private text(): string {
    const n = this.next++;
    return `${this.options.texts[n % this.options.texts.length]} #${n}`;
  }

  /** The status of a JSON POST (0 when it failed); the body is read and dropped. */
  private post(path: string, body: unknown): Promise<number> {
    const payload = JSON.stringify(body);
    return new Promise((resolve) => {
      const req = request(
        `${this.url}${path}`,
        {
          method: 'POST',
          agent: this.agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', () => resolve(0));
        },
      );
      req.on('error', () => resolve(0));
      req.end(payload);
    });
  }
}
