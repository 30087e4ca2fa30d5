import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';
import IORedis, { Redis } from 'ioredis';
import { waitFor } from './processes';

export interface RedisServerOptions {
  port: number;
  /** Keep an append-only file here (fsync on every write), so a restart keeps every acknowledged write. */
  appendOnlyDir?: string;
  /** Start as a replica of this primary (`--replicaof`). */
  replicaOf?: { host: string; port: number };
  /** More redis-server arguments (`--name value` pairs). */
  args?: readonly string[];
}

/** Accepts a TCP connection on loopback. */
function listening(port: number): Promise<true | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(undefined));
  });
}

async function killProcess(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}

/**
 * A redis-server of a test's own on another port, to stop, kill and restart without touching the shared
 * one (outages, failover, restarts during an export).
 */
export class RedisServer {
  private child: ChildProcess | undefined;

  constructor(private readonly options: RedisServerOptions) {}

  get url(): string {
    return `redis://127.0.0.1:${this.options.port}`;
  }

  get port(): number {
    return this.options.port;
  }

  async start(): Promise<void> {
    const { port, appendOnlyDir, replicaOf, args = [] } = this.options;
    const persistence = appendOnlyDir
      ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', appendOnlyDir]
      : ['--appendonly', 'no'];
    // A replica's full sync would otherwise write dump.rdb into the working directory: load from the socket.
    const replication = replicaOf
      ? ['--replicaof', replicaOf.host, String(replicaOf.port), '--repl-diskless-load', 'on-empty-db']
      : [];
    this.child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, ...replication, ...args],
      {
        stdio: 'ignore',
      },
    );
    await waitFor(() => listening(port), 10_000, `redis-server on port ${port} to accept connections`);
  }

  /** Kills it at once (SIGKILL), as a crash would. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    await killProcess(child, 'SIGKILL');
  }
}

/** `redis-sentinel` (Debian's package) when on the PATH, else redis-server in sentinel mode: the same binary. */
function sentinelCommand(config: string): [string, string[]] {
  const onPath = (process.env.PATH ?? '')
    .split(delimiter)
    .some((dir) => dir && existsSync(join(dir, 'redis-sentinel')));
  return onPath ? ['redis-sentinel', [config]] : ['redis-server', [config, '--sentinel']];
}

export interface RedisSentinelOptions {
  port: number;
  /** The monitored group (`sentinel monitor <name> …`) and its primary at start. */
  name: string;
  primary: { host: string; port: number };
  /** Sentinels that must agree the primary is down before a failover. */
  quorum: number;
  /** Silence after which a sentinel considers the primary down. */
  downAfterMs: number;
  failoverTimeoutMs: number;
  /** Where its config file is written (sentinel rewrites it with what it learns). */
  dir: string;
}

/** A redis-sentinel of a test's own, on loopback. */
export class RedisSentinel {
  private child: ChildProcess | undefined;

  constructor(private readonly options: RedisSentinelOptions) {}

  get port(): number {
    return this.options.port;
  }

  async start(): Promise<void> {
    const { port, name, primary, quorum, downAfterMs, failoverTimeoutMs, dir } = this.options;
    mkdirSync(dir, { recursive: true });
    const config = join(dir, `sentinel-${port}.conf`);
    writeFileSync(
      config,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${name} ${primary.host} ${primary.port} ${quorum}`,
        `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
        `sentinel failover-timeout ${name} ${failoverTimeoutMs}`,
        `sentinel parallel-syncs ${name} 1`,
        '',
      ].join('\n'),
    );
    const [command, args] = sentinelCommand(config);
    this.child = spawn(command, args, { stdio: 'ignore' });
    await waitFor(() => listening(port), 10_000, `${command} on port ${port} to accept connections`);
  }

  /** A short-lived connection to this sentinel, for SENTINEL commands. */
  async ask<T>(question: (sentinel: Redis) => Promise<T>): Promise<T> {
    const sentinel = new IORedis({
      host: '127.0.0.1',
      port: this.options.port,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    sentinel.on('error', () => undefined);
    try {
      await sentinel.connect();
      return await question(sentinel);
    } finally {
      sentinel.disconnect();
    }
  }

  /** SENTINEL MASTER <name>, as an object. */
  async master(): Promise<Record<string, string>> {
    const reply = (await this.ask((s) => s.call('SENTINEL', 'MASTER', this.options.name))) as string[];
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < reply.length; i += 2) fields[reply[i]] = reply[i + 1];
    return fields;
  }

  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    await killProcess(child, 'SIGKILL');
  }
}

export interface SentinelGroupOptions {
  /** Free loopback ports: the primary's, one per replica, one per sentinel. */
  ports: { primary: number; replicas: readonly number[]; sentinels: readonly number[] };
  /** Sentinels' config files go here. */
  dir: string;
  name?: string;
  downAfterMs?: number;
  failoverTimeoutMs?: number;
}

/**
 * One primary, its replicas and the sentinels watching them, on loopback: what a Sentinel deployment is, for
 * failover tests. The apps reach it through `env` (REDIS_SENTINELS and REDIS_SENTINEL_NAME).
 */
export class SentinelGroup {
  readonly name: string;
  readonly primary: RedisServer;
  readonly replicas: RedisServer[];
  readonly sentinels: RedisSentinel[];

  constructor(options: SentinelGroupOptions) {
    this.name = options.name ?? 'mymaster';
    const loopback = '127.0.0.1';
    // A replica syncs at once instead of after the diskless sync's default 5 s delay.
    this.primary = new RedisServer({
      port: options.ports.primary,
      args: ['--repl-diskless-sync-delay', '0'],
    });
    this.replicas = options.ports.replicas.map(
      (port) =>
        new RedisServer({
          port,
          replicaOf: { host: loopback, port: options.ports.primary },
          args: ['--repl-diskless-sync-delay', '0'],
        }),
    );
    this.sentinels = options.ports.sentinels.map(
      (port) =>
        new RedisSentinel({
          port,
          name: this.name,
          primary: { host: loopback, port: options.ports.primary },
          quorum: Math.floor(options.ports.sentinels.length / 2) + 1,
          downAfterMs: options.downAfterMs ?? 1_000,
          failoverTimeoutMs: options.failoverTimeoutMs ?? 3_000,
          dir: options.dir,
        }),
    );
  }

  /** The variables an app needs to reach the group's primary through its sentinels. */
  get env(): Record<string, string> {
    return {
      REDIS_URL: `redis://${this.name}`,
      REDIS_SENTINELS: this.sentinels.map((sentinel) => `127.0.0.1:${sentinel.port}`).join(','),
      REDIS_SENTINEL_NAME: this.name,
    };
  }

  /**
   * Starts every process and resolves once the sentinels are ready to fail over: each knows every replica and
   * every other sentinel, and the replicas are in sync.
   */
  async start(timeoutMs = 60_000): Promise<void> {
    await this.primary.start();
    await Promise.all(this.replicas.map((replica) => replica.start()));
    await Promise.all(this.sentinels.map((sentinel) => sentinel.start()));
    const others = String(this.sentinels.length - 1);
    const replicas = String(this.replicas.length);
    // What the last check saw, for the error when they never agree (discovery takes a sentinel's INFO period,
    // 10 s, and hello period, 2 s).
    let seen = 'nothing yet';
    try {
      await waitFor(
        async () => {
          const views = await Promise.all(
            this.sentinels.map(async (sentinel) => {
              const master = await sentinel.master();
              return {
                ready: master['num-slaves'] === replicas && master['num-other-sentinels'] === others,
                said: `sentinel :${sentinel.port} knows ${master['num-slaves']} replica(s), ${master['num-other-sentinels']} other sentinel(s)`,
              };
            }),
          );
          const links = await Promise.all(
            this.replicas.map(async (replica) => {
              const info = await ask(replica.port, (r) => r.info('replication'));
              const link = /master_link_status:(\w+)/.exec(info)?.[1] ?? 'unknown';
              return { ready: link === 'up', said: `replica :${replica.port} link ${link}` };
            }),
          );
          seen = [...views, ...links].map((view) => view.said).join('; ');
          return [...views, ...links].every((view) => view.ready) || undefined;
        },
        timeoutMs,
        `${this.sentinels.length} sentinels to know ${replicas} replica(s) of "${this.name}" and each other`,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}; last seen: ${seen}`);
    }
  }

  /** A short-lived connection to one of the group's servers (by port), e.g. to break its replication. */
  ask<T>(port: number, question: (redis: Redis) => Promise<T>): Promise<T> {
    return ask(port, question);
  }

  /** The primary's port, as the first sentinel that answers reports it. */
  async primaryPort(): Promise<number> {
    for (const sentinel of this.sentinels) {
      try {
        const reply = (await sentinel.ask((s) =>
          s.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name),
        )) as string[] | null;
        if (reply) return Number(reply[1]);
      } catch {
        // the next sentinel
      }
    }
    throw new Error(`no sentinel of "${this.name}" answers`);
  }

  /** Resolves with the new primary's port once the sentinels promoted another server than `formerPort`. */
  async failedOver(formerPort: number, timeoutMs = 30_000): Promise<number> {
    return waitFor(
      async () => {
        const port = await this.primaryPort();
        if (port === formerPort) return undefined;
        const role = await ask(port, (r) => r.call('ROLE') as Promise<unknown[]>);
        return role[0] === 'master' ? port : undefined;
      },
      timeoutMs,
      `the sentinels of "${this.name}" to promote a replica`,
    );
  }

  async stop(): Promise<void> {
    await Promise.all([
      ...this.sentinels.map((sentinel) => sentinel.kill()),
      this.primary.kill(),
      ...this.replicas.map((replica) => replica.kill()),
    ]);
  }
}

/** A short-lived connection to a Redis on loopback. */
async function ask<T>(port: number, question: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new IORedis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await question(redis);
  } finally {
    redis.disconnect();
  }
}
