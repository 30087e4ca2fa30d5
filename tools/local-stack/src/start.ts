/**
 * `npm start`: runs the local stack (Redis if none answers, one inference worker, the gateway, the drift
 * monitor) in the foreground until Ctrl-C. `--synthetic <preset>` generates a synthetic model first and serves it; without
 * it, a missing default model is pulled from the Hugging Face Hub first.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { LOCAL_ADMIN_KEY_FILE, firstKey } from '@reputation-monitor/app-harness';
import { parseArgs } from 'node:util';

const ROOT = resolve(__dirname, '../../..');
const DEFAULT_MODEL_DIR = 'models/twitter-roberta-base-sentiment-latest';
const HUB_REPO = 'Xenova/twitter-roberta-base-sentiment-latest';
const children: ChildProcess[] = [];

function log(message: string): void {
  console.log(`[start] ${message}`);
}

function fail(message: string): never {
  console.error(`[start] ${message}`);
  process.exit(1);
}

async function answers(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host, port });
    socket.setTimeout(500);
    socket.once('connect', () => {
      socket.write('PING\r\n');
    });
    socket.once('data', (data) => {
      socket.destroy();
      done(data.toString().startsWith('+PONG') || data.toString().startsWith('-NOAUTH'));
    });
    socket.once('error', () => done(false));
    socket.once('timeout', () => {
      socket.destroy();
      done(false);
    });
  });
}

function onPath(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function ensureRedis(redisUrl: string): Promise<void> {
  const url = new URL(redisUrl);
  const host = url.hostname || '127.0.0.1';
  const port = Number(url.port || 6379);
  if (await answers(host, port)) return log(`Redis answers at ${host}:${port}`);
  const local = ['127.0.0.1', 'localhost', '::1'].includes(host);
  if (!local || !onPath('redis-server')) {
    fail(
      `nothing answers at ${redisUrl}; start Redis there (or install redis-server and use a local REDIS_URL)`,
    );
  }
  log(`no Redis at ${host}:${port}: starting redis-server (no persistence) as a child process`);
  launch('redis', 'redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
  ]);
  for (let i = 0; i < 50 && !(await answers(host, port)); i++) await new Promise((r) => setTimeout(r, 100));
  if (!(await answers(host, port))) fail('redis-server did not come up');
}

function modelHelp(modelDir: string): string {
  return [
    `No model at ${modelDir}.`,
    'Either get the real model:',
    '  export cardiffnlp/twitter-roberta-base-sentiment-latest to ONNX into that folder (optimum-cli export onnx',
    '  --model cardiffnlp/twitter-roberta-base-sentiment-latest --task text-classification <dir>), or download the',
    `  Hub repo ${HUB_REPO} there: npm run model:pull -- --out <dir> (HF_ENDPOINT, HF_TOKEN);`,
    'or try the system offline with a synthetic model (random weights, the real interface):',
    '  npm run start:demo',
  ].join('\n');
}

/**
 * Pulls the default model through the model-pull CLI (tools reach each other through their CLIs, as with
 * synthetic-model); it prints its progress, and on failure what went wrong, before the help below.
 */
function pullDefaultModel(modelDir: string, env: NodeJS.ProcessEnv): void {
  // The worker serves onnx/model_quantized.onnx for MODEL_VARIANT=int8, so that is the file to fetch.
  const variant = env.MODEL_VARIANT === 'int8' ? 'int8' : 'fp32';
  log(`no model at ${modelDir}: pulling ${HUB_REPO} (${variant}) from the Hugging Face Hub`);
  try {
    execFileSync(
      join(ROOT, 'node_modules/.bin/tsx'),
      [join(ROOT, 'tools/model-pull/src/cli.ts'), '--out', modelDir, '--variant', variant],
      { cwd: ROOT, stdio: 'inherit', env },
    );
  } catch {
    fail(modelHelp(modelDir));
  }
}

function launch(
  name: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): ChildProcess {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = `[${name}] `;
  const forward = (stream: NodeJS.WriteStream) => (chunk: Buffer) => {
    stream.write(chunk.toString().replace(/^(?=.)/gm, prefix));
  };
  child.stdout?.on('data', forward(process.stdout));
  child.stderr?.on('data', forward(process.stderr));
  child.once('exit', (code, signal) => {
    if (!stopping) {
      log(`${name} exited (${signal ?? code}); stopping the stack`);
      void stop(1);
    }
  });
  children.push(child);
  return child;
}

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  // Gateway and worker first, Redis last.
  for (const child of [...children].reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.kill('SIGTERM');
    await new Promise((done) => child.once('exit', done));
  }
  process.exit(code);
}

async function waitForHttp(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !stopping) {
    try {
      if ((await fetch(url)).ok) return true;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { synthetic: { type: 'string' }, 'skip-build': { type: 'boolean', default: false } },
  });
  const env: NodeJS.ProcessEnv = { ...process.env };
  env.REDIS_URL ??= 'redis://127.0.0.1:6379';
  // A development stack: loopback only, so no client keys are needed; admin routes still need a key.
  env.HOST ??= '127.0.0.1';
  // Readable lines on a terminal (the apps log JSON by default, for log pipelines).
  if (process.stdout.isTTY) env.LOG_FORMAT ??= 'pretty';
  env.ADMIN_API_KEYS ??= `local-admin:${randomBytes(16).toString('hex')}`;
  const adminKey = firstKey(env.ADMIN_API_KEYS);
  // For `npm run demo:loop` in another terminal (owner-only file, in the ignored tmp/).
  mkdirSync(dirname(LOCAL_ADMIN_KEY_FILE), { recursive: true });
  writeFileSync(LOCAL_ADMIN_KEY_FILE, adminKey + '\n', { mode: 0o600 });
  const port = env.PORT ?? '3000';
  const driftPort = env.DRIFT_MONITOR_PORT ?? '3003';

  if (values.synthetic) {
    env.MODEL_DIR ??= `models/synthetic-${values.synthetic}`;
    execFileSync(
      join(ROOT, 'node_modules/.bin/tsx'),
      [join(ROOT, 'tools/synthetic-model/src/cli.ts'), '--preset', values.synthetic, '--out', env.MODEL_DIR],
      { cwd: ROOT, stdio: 'inherit' },
    );
  }
  const modelDir = resolve(ROOT, env.MODEL_DIR ?? DEFAULT_MODEL_DIR);
  if (!existsSync(modelDir)) {
    if (modelDir !== resolve(ROOT, DEFAULT_MODEL_DIR)) fail(modelHelp(modelDir));
    pullDefaultModel(modelDir, env);
  }
  env.MODEL_DIR = modelDir;

  if (!values['skip-build']) {
    log('building gateway, inference-worker and drift-monitor (cached when unchanged)');
    execFileSync(
      join(ROOT, 'node_modules/.bin/nx'),
      ['run-many', '-t', 'build', '-p', 'gateway', 'inference-worker', 'drift-monitor'],
      {
        cwd: ROOT,
        stdio: 'inherit',
        env: { ...process.env, NX_DAEMON: 'false' },
      },
    );
  }

  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  await ensureRedis(env.REDIS_URL);
  launch('worker', process.execPath, [join(ROOT, 'dist/apps/inference-worker/main.js')], env);
  launch('gateway', process.execPath, [join(ROOT, 'dist/apps/gateway/main.js')], env);
  // PORT is the gateway's; the monitor gets its own (both apps read PORT).
  launch('drift-monitor', process.execPath, [join(ROOT, 'dist/apps/drift-monitor/main.js')], {
    ...env,
    PORT: driftPort,
  });

  if (await waitForHttp(`http://127.0.0.1:${port}/health/ready`, 120_000)) {
    log(`ready. Try:
  curl -s localhost:${port}/v1/sentiment -H 'content-type: application/json' -d '{"text":"I love the new update!"}'
  API docs: http://localhost:${port}/docs
  admin key of this run (queues, model changes, drift runs): ${adminKey}
  queues: http://localhost:${port}/admin/queues (any user name, the admin key as password)
  drift monitor: every 15 minutes (SCHEDULE); run it now with
    curl -s -X POST localhost:${driftPort}/v1/runs -H 'authorization: Bearer ${adminKey}'
  reports at http://localhost:${driftPort}/v1/reports/latest
  Ctrl-C stops everything.`);
  } else if (!stopping) {
    log(`the gateway is not ready after 120 s; see the logs above (http://127.0.0.1:${port}/health/ready)`);
  }
}

main().catch((error: Error) => fail(error.stack ?? error.message));
