/**
 * The all-in-one image (apps/all-in-one: the Hugging Face Space demo), run as processes: its entry point as it is,
 * outside Docker, with the paths and ports the image fixes pointed at the apps built in dist/, a temporary data
 * folder (the Space's persistent storage) and free loopback ports. The pinned model comes from a fake Hub on
 * loopback serving the tiny synthetic model. Each start runs the real chain: model:pull, the sha256 check,
 * redis-server, supervisord, the inference worker and the gateway; each stop is a SIGTERM, after which every
 * process the start created must be gone.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeHub } from '@reputation-monitor/fake-hub';
import { freePort, waitFor } from './support/apps';
import { getJson, postJson } from './support/http';
import { TINY_MODEL_DIR, WORKSPACE_ROOT } from './support/paths';

const ENTRYPOINT = join(WORKSPACE_ROOT, 'apps/all-in-one/entrypoint.sh');
const MODEL_PULL_JS = join(WORKSPACE_ROOT, 'dist/apps/all-in-one/model-pull.js');
const MODEL_REPO = 'acme/sentiment-demo';
const GRAPH = 'onnx/model.onnx';
const MODEL_FILES = [
  GRAPH,
  'config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'vocab.json',
  'merges.txt',
];
const API_KEY = 'space-demo-key-0123456789';
const auth = { 'x-api-key': API_KEY };
const LABELS = ['negative', 'neutral', 'positive'];

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Every process's parent, from /proc. */
function parents(): Map<number, number> {
  const map = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …; comm may hold spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      map.set(Number(entry), ppid);
    } catch {
      // gone meanwhile
    }
  }
  return map;
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** Running: it exists and is not a zombie waiting for its parent. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

interface Container {
  child: ChildProcess;
  url: string;
  logs(): string;
  exited: Promise<number | null>;
  /** Every descendant seen while it ran, with its command line. */
  seen: Map<number, string>;
}

const started: Container[] = [];

/** Starts the entry point and records its process tree until it exits. */
function startContainer(env: Record<string, string>): Container {
  const child = spawn(ENTRYPOINT, [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const seen = new Map<number, string>();
  const record = () => {
    if (child.pid === undefined) return;
    const tree = parents();
    const queue = [child.pid];
    while (queue.length > 0) {
      const pid = queue.shift() as number;
      for (const [candidate, parent] of tree) {
        if (parent !== pid) continue;
        // Again at each look: a child of supervisord shows supervisord's command line until it has exec'd.
        const command = commandLine(candidate);
        if (command || !seen.has(candidate)) seen.set(candidate, command);
        queue.push(candidate);
      }
    }
  };
  const poll = setInterval(record, 200);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      clearInterval(poll);
      resolve(code);
    }),
  );
  const container = { child, url: `http://127.0.0.1:${env.PORT}`, logs: () => output, exited, seen };
  started.push(container);
  return container;
}

async function ready(container: Container): Promise<void> {
  await waitFor(
    async () => {
      if (container.child.exitCode !== null) throw new Error('exited');
      const response = await fetch(`${container.url}/health/ready`);
      return response.ok ? true : undefined;
    },
    90_000,
    'the gateway to be ready',
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n--- output ---\n${container.logs()}`);
  });
}

/** Resolves with the exit code once the entry point and every process it started are gone. */
async function ended(container: Container): Promise<number | null> {
  const code = await container.exited;
  await waitFor(
    async () => ([...container.seen.keys()].some(alive) ? undefined : true),
    10_000,
    'every process of the container to exit',
  ).catch(() => {
    const left = [...container.seen].filter(([pid]) => alive(pid)).map(([pid, cmd]) => `${pid} ${cmd}`);
    throw new Error(`processes left after the entry point exited:\n${left.join('\n')}`);
  });
  return code;
}

/** SIGTERM, as docker stop sends it; then as ended. */
function stop(container: Container): Promise<number | null> {
  container.child.kill('SIGTERM');
  return ended(container);
}

const serverProcesses = (container: Container) =>
  [...container.seen.values()].filter((command) => /supervisord|redis-server|main\.js/.test(command));

/** Sends RESP commands to Redis on loopback and returns what it answered. */
function redisSays(port: number, commands: string[][]): Promise<string> {
  const wire = commands
    .map(
      (args) =>
        `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`,
    )
    .join('');
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk));
    socket.on('error', reject);
    socket.on('end', () => resolve(answer));
    socket.write(`${wire}*1\r\n$4\r\nQUIT\r\n`);
  });
}

let hub: FakeHub;
let commit: string;
let graphSha256: string;
let workDir: string;
let dataDir: string;
let env: Record<string, string>;

beforeAll(async () => {
  if (!existsSync(MODEL_PULL_JS)) {
    throw new Error(`${MODEL_PULL_JS} is missing: build it first (npx nx build all-in-one)`);
  }
  for (const tool of ['redis-server', 'supervisord']) {
    const found = (process.env.PATH ?? '').split(':').some((dir) => existsSync(join(dir, tool)));
    if (!found) throw new Error(`${tool} is not on the PATH (apt-get install redis-server supervisor)`);
  }
  hub = await FakeHub.start();
  const files = Object.fromEntries(
    MODEL_FILES.map((path) => [path, readFileSync(join(TINY_MODEL_DIR, path))]),
  );
  commit = hub.seed('model', MODEL_REPO, files);
  graphSha256 = sha256(files[GRAPH]);
  // Short: supervisord's socket path lives under it.
  workDir = mkdtempSync(join(tmpdir(), 'aio-'));
  dataDir = join(workDir, 'data');
  const [gatewayPort, healthPort, redisPort] = [await freePort(), await freePort(), await freePort()];
  env = {
    PATH: process.env.PATH ?? '',
    NO_COLOR: '1',
    // What the image fixes, pointed at the workspace's build and this test's folders and ports.
    GATEWAY_DIR: join(WORKSPACE_ROOT, 'dist/apps/gateway'),
    WORKER_DIR: join(WORKSPACE_ROOT, 'dist/apps/inference-worker'),
    MODEL_PULL_JS,
    DATA_DIR: dataDir,
    RUN_DIR: join(workDir, 'run'),
    HOST: '127.0.0.1',
    PORT: String(gatewayPort),
    HEALTH_PORT: String(healthPort),
    REDIS_PORT: String(redisPort),
    // What a Space's settings give it.
    HF_ENDPOINT: hub.endpoint,
    MODEL_REPO,
    MODEL_REVISION: commit,
    MODEL_SHA256: graphSha256,
    API_KEYS: `demo:${API_KEY}`,
    INTRA_OP_THREADS: '1',
  };
});

// A test that failed halfway leaves its container running: stop it, so the next start has the ports.
afterEach(async () => {
  for (const container of started) {
    if (container.child.exitCode === null && container.child.signalCode === null) {
      await stop(container).catch(() => undefined);
    }
  }
});

afterAll(async () => {
  for (const container of started) {
    for (const pid of [container.child.pid, ...container.seen.keys()]) {
      if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGKILL');
    }
  }
  await hub?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

const modelDir = () => join(dataDir, 'models', 'sentiment-demo');
/** Requests for the graph (the Hub's `resolve`, which sends the client on to the CDN). */
const graphDownloads = () =>
  hub.requests.filter(
    (request) => request.server === 'hub' && request.path.endsWith(`/resolve/${commit}/${GRAPH}`),
  );

describe('the all-in-one entry point', () => {
  it('refuses a public address without API keys before it downloads anything', async () => {
    const container = startContainer({ ...env, HOST: '0.0.0.0', API_KEYS: '' });

    expect(await ended(container)).toBe(1);
    expect(container.logs()).toContain(
      'HOST=0.0.0.0 is reachable from other machines and API_KEYS is not set: set API_KEYS (a Space secret), ' +
        'or AUTH=off (a Space variable) to serve the demo without keys on purpose',
    );
    expect(hub.requests).toEqual([]);
    expect(serverProcesses(container)).toEqual([]);
  });

  it('first start: pulls the pinned model into the data folder, checks its sha256, and classifies a text', async () => {
    const container = startContainer(env);
    await ready(container);

    expect(container.logs()).toContain(`Pulling ${MODEL_REPO} (fp32) at ${commit}`);
    expect(container.logs()).toContain(`${GRAPH} matches MODEL_SHA256 (${MODEL_REPO} at ${commit}, fp32)`);
    expect(graphDownloads()).not.toHaveLength(0);
    expect(sha256(readFileSync(join(modelDir(), GRAPH)))).toBe(graphSha256);

    const text = { text: 'Loving the new update, great job @acme!', id: 'demo-1' };
    expect((await postJson(`${container.url}/v1/sentiment`, text)).status).toBe(401);
    const answer = await postJson(`${container.url}/v1/sentiment`, text, auth);
    expect(answer.status).toBe(200);
    expect(LABELS).toContain(answer.body.label);
    expect(answer.body.model).toMatchObject({ version: `fp32-${graphSha256.slice(0, 12)}` });

    // Redis: a password of this start, written only to a file of the owner's, never logged; loopback,
    // noeviction, the data in the data folder.
    const redisConf = join(env.RUN_DIR, 'redis.conf');
    expect(statSync(redisConf).mode & 0o077).toBe(0);
    const password = /^requirepass (\S+)$/m.exec(readFileSync(redisConf, 'utf8'))?.[1] ?? '';
    expect(password).toMatch(/^[0-9a-f]{48}$/);
    expect(container.logs()).not.toContain(password);
    const port = Number(env.REDIS_PORT);
    expect(await redisSays(port, [['PING']])).toMatch(/^-NOAUTH/);
    const config = await redisSays(port, [
      ['AUTH', password],
      ['CONFIG', 'GET', 'bind'],
      ['CONFIG', 'GET', 'maxmemory-policy'],
      ['CONFIG', 'GET', 'dir'],
    ]);
    expect(config).toContain('127.0.0.1');
    expect(config).toContain('noeviction');
    expect(config).toContain(join(dataDir, 'redis'));

    const processes = [...container.seen.values()];
    expect(processes).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/supervisord/),
        expect.stringMatching(/^redis-server /),
        expect.stringContaining(join(env.WORKER_DIR, 'main.js')),
        expect.stringContaining(join(env.GATEWAY_DIR, 'main.js')),
      ]),
    );
    expect(await stop(container)).toBe(0);
    expect(container.logs()).toContain('stopped: gateway (exit status 0)');
    expect(container.logs()).toContain('stopped: inference-worker (exit status 0)');
  });

  it('second start: the model is there and verified, so nothing is downloaded; Redis kept its data', async () => {
    hub.clearRequests();
    const container = startContainer(env);
    await ready(container);

    expect(hub.requests).toEqual([]);
    expect(container.logs()).toContain(
      `already holds ${MODEL_REPO} at ${commit} (fp32); nothing to download`,
    );
    // The result of the first start's request, from the append-only file, read with this start's password.
    const job = await getJson(`${container.url}/v1/jobs/demo~t-demo-1`, auth);
    expect(job.body).toMatchObject({ status: 'completed' });
    const answer = await postJson(`${container.url}/v1/sentiment`, { text: 'The store opens at 9am.' }, auth);
    expect(answer.status).toBe(200);
    expect(LABELS).toContain(answer.body.label);

    expect(await stop(container)).toBe(0);
  });

  it('a graph changed on disk since it was pulled is deleted and pulled again', async () => {
    const graph = join(modelDir(), GRAPH);
    const bytes = readFileSync(graph);
    bytes[bytes.length - 1] ^= 0xff; // same size: model:pull alone would take it
    writeFileSync(graph, bytes);
    hub.clearRequests();

    const container = startContainer(env);
    await ready(container);

    expect(container.logs()).toContain(
      `${graph} has sha256 ${sha256(bytes)}, not MODEL_SHA256 ${graphSha256}: it changed on disk since it was ` +
        'pulled; deleting the folder and pulling it again',
    );
    expect(graphDownloads()).toHaveLength(1);
    expect(sha256(readFileSync(graph))).toBe(graphSha256);
    expect(await stop(container)).toBe(0);
  });

  it('refuses a download that is not the pinned graph, with a clear message, and starts nothing', async () => {
    const otherData = join(workDir, 'other-data');
    mkdirSync(otherData);
    const pin = sha256(Buffer.from('the graph someone meant to pin'));
    const container = startContainer({ ...env, DATA_DIR: otherData, MODEL_SHA256: pin });

    expect(await ended(container)).toBe(1);
    expect(container.logs()).toContain(
      `refusing to start: ${GRAPH} of ${MODEL_REPO} at ${commit} has sha256 ${graphSha256}, but MODEL_SHA256 ` +
        `pins ${pin}; the download is deleted.`,
    );
    expect(existsSync(join(otherData, 'models', 'sentiment-demo'))).toBe(false);
    expect(serverProcesses(container)).toEqual([]);
  });

  it('stops the container with status 1 when a program cannot be started', async () => {
    // The worker refuses this setting at each of its starts; supervisord gives up on it (FATAL).
    const container = startContainer({ ...env, INTRA_OP_THREADS: '-1' });

    expect(await ended(container)).toBe(1);
    expect(container.logs()).toContain('INTRA_OP_THREADS must be an integer');
    expect(container.logs()).toContain('stopped because inference-worker could not be started');
  });
});
