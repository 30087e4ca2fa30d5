import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from '@reputation-monitor/app-harness';

export function promtool(args: string[]): { status: number | null; output: string } {
  const result = spawnSync('promtool', args, { encoding: 'utf8' });
  if (result.error)
    throw new Error(`promtool is not installed (apt-get install prometheus): ${result.error.message}`);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

export interface RunningPrometheus {
  url: string;
  query(expr: string): Promise<{ status: string; error?: string; resultType?: string; result: unknown[] }>;
  stop(): Promise<void>;
}

/** A real Prometheus scraping the given targets every second, with the repository's alert rules loaded. */
export async function startPrometheus(
  jobs: Record<string, string>,
  rulesGlob: string,
): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'prometheus-'));
  const port = await freePort();
  const scrapeConfigs = Object.entries(jobs)
    .map(([job, target]) => `  - job_name: ${job}\n    static_configs:\n      - targets: ['${target}']`)
    .join('\n');
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - ${rulesGlob}\nscrape_configs:\n${scrapeConfigs}\n`,
  );
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (chunk) => (log += chunk));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited: ${log}`);
      return (await fetch(`${url}/-/ready`)).ok ? true : undefined;
    },
    30_000,
    'prometheus to be ready',
  );
  return {
    url,
    async query(expr) {
      const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await response.json()) as {
        status: string;
        error?: string;
        data?: { resultType: string; result: unknown[] };
      };
      return {
        status: body.status,
        error: body.error,
        resultType: body.data?.resultType,
        result: body.data?.result ?? [],
      };
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The Redis exporter binaries it looks for: Debian's package, then the upstream release's name. */
const REDIS_EXPORTER_BINARIES = ['prometheus-redis-exporter', 'redis_exporter'];

export interface RunningExporter {
  /** host:port of its /metrics. */
  host: string;
  stop(): Promise<void>;
}

function onPath(binary: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' }).status === 0;
}

/**
 * The real oliver006/redis_exporter (the image docker-compose.yml runs, here Debian's build of it) on loopback,
 * reading `redisUrl`, with the system metrics the memory alert falls back on when maxmemory is 0.
 */
export async function startRedisExporter(redisUrl: string): Promise<RunningExporter> {
  const binary = REDIS_EXPORTER_BINARIES.find(onPath);
  if (!binary) {
    throw new Error(
      `no Redis exporter (${REDIS_EXPORTER_BINARIES.join(' or ')}) on the PATH: apt-get install prometheus-redis-exporter`,
    );
  }
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    binary,
    [`--redis.addr=${redisUrl}`, `--web.listen-address=${host}`, '--include-system-metrics'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (chunk) => (log += chunk));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) return false;
        const response = await fetch(`http://${host}/metrics`);
        return response.ok && /^redis_up 1$/m.test(await response.text()) ? true : undefined;
      },
      30_000,
      `${binary} to report redis_up 1 (Redis at ${new URL(redisUrl).host})`,
    ).then((ready) => {
      if (!ready) throw new Error(`${binary} exited`);
    });
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}: ${log}`);
  }
  return { host, stop };
}
