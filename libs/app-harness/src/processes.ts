import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** Where the built apps live, relative to the workspace root. */
export const APP_ENTRY = {
  gateway: 'dist/apps/gateway/main.js',
  worker: 'dist/apps/inference-worker/main.js',
  driftMonitor: 'dist/apps/drift-monitor/main.js',
} as const;

export interface AppProcess {
  url: string;
  child: ChildProcess;
  logs(): string;
  /** Sends a signal and resolves with the exit code once the process is gone. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const running = new Set<AppProcess>();

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface LaunchOptions {
  workspaceRoot: string;
  redisUrl: string;
  env: Record<string, string>;
  /** Confine the process to these CPUs (a `taskset --cpu-list` list such as `0` or `0-1`; Linux). */
  cpus?: string;
}

/** A command line that starts `command` confined to `cpus` (taskset execs it: the pid stays the process's). */
export const pinnedCommand = (cpus: string, command: string, args: readonly string[]): [string, string[]] => [
  'taskset',
  ['--cpu-list', cpus, command, ...args],
];

function launch(which: keyof typeof APP_ENTRY, options: LaunchOptions, port: number): AppProcess {
  const entry = join(options.workspaceRoot, APP_ENTRY[which]);
  const [command, args] = options.cpus
    ? pinnedCommand(options.cpus, process.execPath, [entry])
    : [process.execPath, [entry]];
  const child = spawn(command, args, {
    env: { PATH: process.env.PATH, NO_COLOR: '1', REDIS_URL: options.redisUrl, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const app: AppProcess = {
    url: `http://127.0.0.1:${port}`,
    child,
    logs: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await exited;
      running.delete(app);
      return code;
    },
  };
  running.add(app);
  return app;
}

async function ready(app: AppProcess, path: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    async () => {
      if (app.child.exitCode !== null)
        throw new Error(`exited early with ${app.child.exitCode}:\n${app.logs()}`);
      const response = await fetch(app.url + path);
      return response.ok ? true : undefined;
    },
    timeoutMs,
    `${path} of ${app.url}`,
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n--- process output ---\n${app.logs()}`);
  });
}

/** Starts an inference worker on loopback and resolves once it consumes the queue. */
export async function startWorker(options: LaunchOptions): Promise<AppProcess> {
  const port = await freePort();
  const env = { HEALTH_HOST: '127.0.0.1', HEALTH_PORT: String(port), ...options.env };
  const app = launch('worker', { ...options, env }, port);
  await ready(app, '/health/ready', 180_000);
  return app;
}

/** Starts an app that listens on HOST/PORT, on loopback, and resolves once `readyPath` answers 2xx. */
async function startServer(
  which: 'gateway' | 'driftMonitor',
  options: LaunchOptions,
  readyPath: string,
): Promise<AppProcess> {
  const port = await freePort();
  const env = { HOST: '127.0.0.1', PORT: String(port), ...options.env };
  const app = launch(which, { ...options, env }, port);
  await ready(app, readyPath);
  return app;
}

/** Starts a gateway on loopback and resolves once it serves (readiness also needs a worker, which some tests leave out). */
export const startGateway = (options: LaunchOptions): Promise<AppProcess> =>
  startServer('gateway', options, '/health/live');

/** Starts a drift monitor on loopback and resolves once it is ready (Redis answers). */
export const startDriftMonitor = (options: LaunchOptions): Promise<AppProcess> =>
  startServer('driftMonitor', options, '/health/ready');

/** Starts a process without waiting for readiness (for boot-failure tests). */
export function spawnApp(which: keyof typeof APP_ENTRY, options: LaunchOptions): AppProcess {
  return launch(which, options, 0);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((app) => app.stop('SIGKILL')));
}
