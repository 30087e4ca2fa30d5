import { ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { waitFor } from './processes';

export interface RedisServerOptions {
  port: number;
  /** Keep an append-only file here (fsync on every write), so a restart keeps every acknowledged write. */
  appendOnlyDir?: string;
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

  async start(): Promise<void> {
    const { port, appendOnlyDir } = this.options;
    const persistence = appendOnlyDir
      ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', appendOnlyDir]
      : ['--appendonly', 'no'];
    this.child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence],
      {
        stdio: 'ignore',
      },
    );
    await waitFor(
      () =>
        new Promise<true | undefined>((resolve) => {
          const socket = connect(port, '127.0.0.1');
          socket.once('connect', () => (socket.destroy(), resolve(true)));
          socket.once('error', () => resolve(undefined));
        }),
      10_000,
      `redis-server on port ${port} to accept connections`,
    );
  }

  /** Kills it at once (SIGKILL), as a crash would. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}
