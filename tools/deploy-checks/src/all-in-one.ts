/**
 * The all-in-one image (apps/all-in-one: the gateway, one inference worker and a private Redis under supervisord,
 * the Hugging Face Space demo), checked the way the app images are and against its own three files: the
 * Dockerfile, the entry point and supervisord's configuration must agree on every path, variable and port, and
 * with the apps they run (their `--env-schema`).
 */
import { spawnSync } from 'node:child_process';
import { posix } from 'node:path';
import { Copy, JSONInstruction } from 'dockerfile-ast';
import { isIgnored } from './dockerignore';
import {
  argumentValues,
  buildStageProblems,
  copyFrom,
  copySources,
  envOf,
  findBuildStage,
  keyword,
  NPM_CI,
  runText,
  RUNTIME_ENV,
  type Stage,
  stageProblems,
  stagesOf,
} from './dockerfile';
import { defaultText, type EnvSchema } from './env-schema';

/** An app the image runs: its Nx project, its program in supervisord.conf, the entry point's variable for its folder. */
export interface BundledApp {
  project: 'gateway' | 'inference-worker';
  program: string;
  dirVariable: string;
}

export const ALL_IN_ONE = {
  project: 'all-in-one',
  dockerfile: 'apps/all-in-one/Dockerfile',
  entrypoint: 'apps/all-in-one/entrypoint.sh',
  supervisorConf: 'apps/all-in-one/supervisord.conf',
  projectJson: 'apps/all-in-one/project.json',
  /** In start order: Redis comes before both, the gateway (the only public port) last. */
  apps: [
    { project: 'inference-worker', program: 'inference-worker', dirVariable: 'WORKER_DIR' },
    { project: 'gateway', program: 'gateway', dirVariable: 'GATEWAY_DIR' },
  ] as readonly BundledApp[],
  redisProgram: 'redis',
  /** The port a Hugging Face Docker Space sends its traffic to by default (README front matter app_port). */
  spacePort: '7860',
  /** Debian packages the runtime stage installs: what supervisord.conf runs besides node. */
  packages: ['redis-server', 'supervisor'],
} as const;

export interface AllInOneFiles {
  dockerfile: string;
  entrypoint: string;
  supervisorConf: string;
  projectJson: string;
  dockerignore: string;
}

export type AppSchemaOf = (project: BundledApp['project']) => EnvSchema;

// ---- entrypoint.sh -------------------------------------------------------------------------------------

/** The entry point's own settings: `: "${NAME:=default}"` lines, name → default as written. */
export function entrypointSettings(script: string): Map<string, string> {
  const settings = new Map<string, string>();
  for (const [, name, value] of script.matchAll(/^: "\$\{([A-Z_][A-Z0-9_]*):=(.*)\}"/gm)) {
    settings.set(name, value);
  }
  return settings;
}

/** The variables the entry point exports to supervisord (and so to every program). */
export function entrypointExports(script: string): Set<string> {
  const names = new Set<string>();
  for (const [, list] of script.matchAll(/^export (.+)$/gm)) {
    if (list.includes('=')) names.add(list.slice(0, list.indexOf('=')).trim());
    else for (const name of list.trim().split(/\s+/)) names.add(name);
  }
  return names;
}

/** The configuration entrypoint.sh writes for Redis (the heredoc that ends in REDIS). */
function redisConfOf(script: string): string {
  return /<<REDIS\n([\s\S]*?)\nREDIS\n/.exec(script)?.[1] ?? '';
}

/**
 * The entry point: a pinned model whose graph is checked with sha256sum before anything starts, Redis bound to
 * loopback with a password of the start and noeviction, REDIS_URL pointing at it.
 */
export function checkEntrypoint(script: string): string[] {
  const where = ALL_IN_ONE.entrypoint;
  const problems: string[] = [];
  const check = (ok: boolean, message: string) => {
    if (!ok) problems.push(`${where}: ${message}`);
  };
  const settings = entrypointSettings(script);
  for (const name of ['DATA_DIR', 'RUN_DIR', 'MODEL_REVISION', 'MODEL_SHA256'])
    check(settings.has(name), `has no setting ${name} (: "\${${name}:=…}")`);
  check(settings.get('MODEL_REVISION') === '', 'gives MODEL_REVISION a default (the pin must be chosen)');
  check(settings.get('MODEL_SHA256') === '', 'gives MODEL_SHA256 a default (the pin must be chosen)');
  check(
    /\[\[ \$MODEL_REVISION =~ \^\[0-9a-f\]\{40\}\$ \]\]/.test(script),
    'does not require MODEL_REVISION to be a full commit',
  );
  check(
    /sha256sum "\$MODEL_DIR\/\$graph"/.test(script) &&
      /if \[\[ \$actual != "\$MODEL_SHA256" \]\]; then[^]*?fail "refusing to start/.test(script),
    "does not compare the graph's sha256 (sha256sum) with MODEL_SHA256",
  );
  check(/node "\$MODEL_PULL_JS"/.test(script), 'does not pull the model with model:pull ($MODEL_PULL_JS)');

  const conf = redisConfOf(script);
  check(conf !== '', 'writes no redis.conf (a heredoc ending in REDIS)');
  if (conf) {
    const directives = new Map(
      conf
        .split('\n')
        .filter((line) => line && !line.startsWith('#'))
        .map((line) => [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1)]),
    );
    check(directives.get('bind') === '127.0.0.1', 'binds Redis to something else than 127.0.0.1');
    check(directives.get('port') === '$REDIS_PORT', 'does not put Redis on REDIS_PORT');
    check(directives.get('requirepass') === '$password', 'gives Redis no password of its own');
    check(
      directives.get('maxmemory-policy') === 'noeviction',
      'lets Redis evict keys (BullMQ needs noeviction)',
    );
    check(directives.get('maxmemory') === '$REDIS_MAXMEMORY', 'does not cap Redis at REDIS_MAXMEMORY');
    check(directives.get('appendonly') === 'yes', 'keeps no append-only file');
    check((directives.get('dir') ?? '').includes('$DATA_DIR'), 'keeps Redis data outside DATA_DIR');
  }
  check(
    /export REDIS_URL="redis:\/\/:\$password@127\.0\.0\.1:\$REDIS_PORT"/.test(script),
    'does not give the apps REDIS_URL=redis://:$password@127.0.0.1:$REDIS_PORT',
  );
  check(/\/dev\/urandom/.test(script), 'does not make the Redis password from /dev/urandom');
  check(
    /\bsupervisord\b.*--configuration "\$HERE\/supervisord\.conf"/.test(script),
    'does not run supervisord.conf',
  );
  return problems;
}

/** shellcheck's findings on a script's text (`name` labels them); throws when shellcheck is missing. */
export function shellcheckProblems(name: string, text: string): string[] {
  const result = spawnSync('shellcheck', ['--format=gcc', '--shell=bash', '-'], {
    input: text,
    encoding: 'utf8',
  });
  if (result.error) {
    throw new Error(`shellcheck is not installed (apt-get install shellcheck): ${result.error.message}`);
  }
  return result.status === 0
    ? []
    : result.stdout
        .trim()
        .split('\n')
        .map((line) => line.replace(/^-:/, `${name}:`));
}

// ---- supervisord.conf ----------------------------------------------------------------------------------

export type IniFile = Map<string, Map<string, string>>;

/** supervisord's INI dialect: `;` comments (inline after whitespace), `key=value`, no continuation lines. */
export function parseIni(text: string): IniFile {
  const sections: IniFile = new Map();
  let current: Map<string, string> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s;.*$/, '').trim();
    if (!line || line.startsWith(';') || line.startsWith('#')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1], current);
    } else if (current && line.includes('=')) {
      current.set(line.slice(0, line.indexOf('=')).trim(), line.slice(line.indexOf('=') + 1).trim());
    }
  }
  return sections;
}

/** A program's `environment=KEY="value",…`. */
export function programEnvironment(value: string | undefined): Map<string, string> {
  const env = new Map<string, string>();
  for (const [, name, quoted, bare] of (value ?? '').matchAll(/([A-Z_][A-Z0-9_]*)=(?:"([^"]*)"|([^,]*))/g)) {
    env.set(name, quoted ?? bare);
  }
  return env;
}

/** How long an app may take to stop after SIGTERM: SHUTDOWN_TIMEOUT_MS, plus the 5 s closeOnSignals allows. */
function stopSeconds(schema: EnvSchema, env: Map<string, string>): number | undefined {
  const ms = Number(env.get('SHUTDOWN_TIMEOUT_MS') ?? defaultText(schema, 'SHUTDOWN_TIMEOUT_MS'));
  return Number.isFinite(ms) ? ms / 1000 + 5 : undefined;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1)$/;

/**
 * supervisord.conf: in the foreground; Redis, then each app (node <its folder>/main.js), restarted when they
 * die, logging to stdout, given at least their shutdown timeout to stop; only the gateway listens beyond
 * loopback; a listener that stops everything when a program cannot be started; every %(ENV_…)s exported by
 * the entry point.
 */
export function checkSupervisorConf(files: AllInOneFiles, schemaOf: AppSchemaOf): string[] {
  const where = ALL_IN_ONE.supervisorConf;
  const problems: string[] = [];
  const check = (ok: boolean, message: string) => {
    if (!ok) problems.push(`${where}: ${message}`);
  };
  const ini = parseIni(files.supervisorConf);
  const exported = entrypointExports(files.entrypoint);
  check(
    ini.get('supervisord')?.get('nodaemon') === 'true',
    'supervisord does not run in the foreground (nodaemon=true)',
  );
  for (const [, name] of files.supervisorConf.matchAll(/%\(ENV_([A-Za-z_][A-Za-z0-9_]*)\)s/g)) {
    check(exported.has(name), `reads %(ENV_${name})s, which ${ALL_IN_ONE.entrypoint} does not export`);
  }

  const programs = [...ini.keys()].filter((name) => name.startsWith('program:')).map((name) => name.slice(8));
  const wanted = [ALL_IN_ONE.redisProgram, ...ALL_IN_ONE.apps.map((app) => app.program)];
  check(
    JSON.stringify([...programs].sort()) === JSON.stringify([...wanted].sort()),
    `runs the programs ${programs.join(', ')}, not ${wanted.join(', ')}`,
  );
  const priority = (name: string) => Number(ini.get(`program:${name}`)?.get('priority') ?? 999);
  const order = [...wanted].sort((a, b) => priority(a) - priority(b));
  check(
    JSON.stringify(order) === JSON.stringify(wanted),
    `starts ${order.join(', ')} (priority); Redis first, the gateway last (stopped first)`,
  );
  for (const name of programs) {
    const program = ini.get(`program:${name}`) ?? new Map<string, string>();
    const at = (message: string) => check(false, `program ${name} ${message}`);
    if (program.get('autorestart') !== 'true') at('is not restarted when it dies (autorestart=true)');
    if (program.get('stdout_logfile') !== '/dev/stdout' || program.get('stdout_logfile_maxbytes') !== '0')
      at('does not log to stdout (stdout_logfile=/dev/stdout, stdout_logfile_maxbytes=0)');
    if (program.get('redirect_stderr') !== 'true') at('keeps stderr out of the log (redirect_stderr=true)');
    if (program.get('killasgroup') !== 'true') at('could leave children behind (killasgroup=true)');
  }

  const redis = ini.get(`program:${ALL_IN_ONE.redisProgram}`);
  check(
    redis?.get('command') === 'redis-server %(ENV_RUN_DIR)s/redis.conf' &&
      files.entrypoint.includes('>"$RUN_DIR/redis.conf"'),
    'does not run redis-server with the redis.conf entrypoint.sh writes to RUN_DIR',
  );
  for (const app of ALL_IN_ONE.apps) {
    const program = ini.get(`program:${app.program}`);
    if (!program) continue;
    const schema = schemaOf(app.project);
    const known = new Set(schema.map((variable) => variable.name));
    const dir = `%(ENV_${app.dirVariable})s`;
    check(
      program.get('command') === `node ${dir}/main.js` && program.get('directory') === dir,
      `program ${app.program} does not run node ${dir}/main.js in ${dir}`,
    );
    const env = programEnvironment(program.get('environment'));
    for (const name of env.keys()) {
      check(known.has(name), `program ${app.program} sets ${name}, which ${app.project} does not read`);
    }
    const needed = stopSeconds(schema, env);
    const given = Number(program.get('stopwaitsecs') ?? 10);
    check(
      needed !== undefined && given >= needed,
      `program ${app.program} gets stopwaitsecs=${given} to stop, but ${app.project} may take ${needed} s ` +
        '(SHUTDOWN_TIMEOUT_MS + 5 s)',
    );
    // Every address an app listens on but the gateway's stays inside the container.
    if (app.project !== 'gateway') {
      for (const variable of schema.filter((v) => /_HOST$/.test(v.name))) {
        const host = env.get(variable.name) ?? String(variable.default ?? '');
        check(
          LOOPBACK.test(host),
          `program ${app.program} listens on ${variable.name}=${host}, not loopback`,
        );
      }
    }
  }

  const listeners = [...ini].filter(([name]) => name.startsWith('eventlistener:'));
  const fatal = listeners.find(([, section]) =>
    (section.get('events') ?? '').split(',').includes('PROCESS_STATE_FATAL'),
  );
  check(fatal !== undefined, 'has no event listener for PROCESS_STATE_FATAL (a program that cannot start)');
  const script = /^%\(here\)s\/([\w.-]+)$/.exec(fatal?.[1].get('command') ?? '')?.[1];
  check(!fatal || script !== undefined, 'runs its PROCESS_STATE_FATAL listener from elsewhere than %(here)s');
  return problems;
}

// ---- Dockerfile ---------------------------------------------------------------------------------------

/** An instruction with where it sits in the runtime stage, and its destination resolved against WORKDIR. */
interface Placed {
  index: number;
  kind: string;
  from?: string;
  sources: string[];
  /** Each source's absolute path in the image (COPY only). */
  targets: string[];
  run: string;
  flags: string[];
}

function placeInstructions(stage: Stage): Placed[] {
  let workdir = '/';
  return stage.instructions.map((instruction, index) => {
    const kind = keyword(instruction);
    if (kind === 'WORKDIR') workdir = posix.resolve(workdir, argumentValues(instruction)[0] ?? '.');
    const isCopy = kind === 'COPY' || kind === 'ADD';
    const sources = isCopy ? copySources(instruction) : [];
    const args = isCopy
      ? instruction instanceof JSONInstruction && instruction.getJSONStrings().length > 0
        ? instruction.getJSONStrings().map((arg) => arg.getJSONValue())
        : argumentValues(instruction)
      : [];
    // A destination ending in / (or several sources) is a folder: a file goes in under its name, a folder's
    // contents go in as they are. Otherwise the destination is the path itself.
    const base = posix.resolve(workdir, args.at(-1) ?? '.');
    const intoFolder = (args.at(-1) ?? '').endsWith('/') || sources.length > 1;
    const targets = sources.map((source) =>
      intoFolder && !source.endsWith('/') ? posix.join(base, posix.basename(source)) : base,
    );
    const flags =
      instruction instanceof Copy
        ? instruction.getFlags().map((flag) => `--${flag.getName()}=${flag.getValue() ?? ''}`)
        : [];
    return {
      index,
      kind,
      from: isCopy ? copyFrom(instruction) : undefined,
      sources,
      targets,
      run: kind === 'RUN' ? runText(instruction) : '',
      flags,
    };
  });
}

/** The absolute default of an entry point setting, or undefined when it is not a plain path. */
function plainDefault(settings: Map<string, string>, name: string): string | undefined {
  const value = settings.get(name);
  return value && value.startsWith('/') && !value.includes('$') ? value : undefined;
}

/**
 * The Dockerfile: the app images' rules (pinned base, npm ci without CUDA, the build's layer order, no model,
 * non-root), its build stage building the all-in-one project (which builds both apps first), and a runtime
 * stage that puts each app, its production dependencies and the model-pull bundle exactly where the entry
 * point's defaults look for them, installs Redis and supervisor, runs the entry point, listens on a Space's
 * port and checks the gateway's readiness.
 */
export function checkAllInOneDockerfile(
  files: AllInOneFiles,
  schemaOf: AppSchemaOf,
  exists: (path: string) => boolean,
): string[] {
  const dockerfile = ALL_IN_ONE.dockerfile;
  let stages: Stage[];
  try {
    stages = stagesOf(files.dockerfile);
  } catch (error) {
    return [`${dockerfile} does not parse: ${(error as Error).message}`];
  }
  const at = (stage: Stage) => `${dockerfile} stage ${stage.name ?? stages.indexOf(stage)}`;
  const problems: string[] = [];
  if (stages.length < 2) problems.push(`${dockerfile} is not multi-stage (${stages.length} FROM)`);
  if (stages.length === 0) return problems;
  problems.push(...stageProblems(stages, at));
  const build = findBuildStage(stages, ALL_IN_ONE.project);
  problems.push(...buildStageProblems(build, dockerfile, ALL_IN_ONE.project, at));

  const project = JSON.parse(files.projectJson) as {
    implicitDependencies?: string[];
    targets?: { build?: { options?: { command?: string } } };
  };
  for (const app of ALL_IN_ONE.apps) {
    if (!(project.implicitDependencies ?? []).includes(app.project))
      problems.push(
        `${ALL_IN_ONE.projectJson}: nx build ${ALL_IN_ONE.project} does not build ${app.project} first (implicitDependencies)`,
      );
  }
  const bundle = /--outfile=(\S+)/.exec(project.targets?.build?.options?.command ?? '')?.[1];
  if (bundle !== `dist/apps/${ALL_IN_ONE.project}/model-pull.js`)
    problems.push(
      `${ALL_IN_ONE.projectJson}: the build does not write dist/apps/${ALL_IN_ONE.project}/model-pull.js`,
    );

  const runtime = stages[stages.length - 1];
  const where = at(runtime);
  const fail = (message: string) => problems.push(`${where}: ${message}`);
  if (runtime === build) fail('the final stage is the build stage (it would ship devDependencies)');
  const placed = placeInstructions(runtime);
  const settings = entrypointSettings(files.entrypoint);
  const copiedTo = (source: RegExp) =>
    placed.flatMap((p) =>
      p.from
        ? p.sources.flatMap((s, i) =>
            source.test(s.replace(/\/$/, '')) ? [{ at: p.index, target: p.targets[i] }] : [],
          )
        : [],
    );

  // Copies from the build stage: the two apps and the model-pull bundle, nothing else.
  const distDirs = [...ALL_IN_ONE.apps.map((app) => app.project), ALL_IN_ONE.project].map(
    (p) => `dist/apps/${p}`,
  );
  for (const p of placed.filter((p) => p.from)) {
    for (const source of p.sources) {
      if (!distDirs.some((dist) => source.replace(/\/$/, '').includes(dist)))
        fail(`copies ${source}, outside ${distDirs.join(', ')}`);
    }
  }
  // Each app: its manifests, then npm ci --omit=dev in its folder, then its bundle, in the folder the entry
  // point's default names.
  for (const app of ALL_IN_ONE.apps) {
    const dist = `dist/apps/${app.project}`;
    const folder = plainDefault(settings, app.dirVariable);
    if (!folder) {
      fail(`${ALL_IN_ONE.entrypoint} has no plain default for ${app.dirVariable}`);
      continue;
    }
    const manifests = ['package.json', 'package-lock.json'].map((file) =>
      copiedTo(new RegExp(`${dist}/${file.replace('.', '\\.')}$`)),
    );
    const whole = copiedTo(new RegExp(`${dist}$`));
    const install = placed.find((p) => {
      if (p.kind !== 'RUN' || !NPM_CI.test(p.run)) return false;
      const dir = /\bcd\s+(\S+)\s*&&/.exec(p.run)?.[1] ?? /--prefix[= ](\S+)/.exec(p.run)?.[1];
      return dir !== undefined && posix.resolve(workdirBefore(runtime, p.index), dir) === folder;
    });
    if (manifests.some((copies) => !copies.some((copy) => posix.dirname(copy.target) === folder)))
      fail(`does not copy ${dist}/package.json and package-lock.json to ${folder} (${app.dirVariable})`);
    if (!whole.some((copy) => copy.target === folder))
      fail(`does not copy ${dist}/ to ${folder} (${app.dirVariable} in ${ALL_IN_ONE.entrypoint})`);
    if (!install) {
      fail(
        `does not install ${app.project}'s production dependencies in ${folder} (cd ${folder} && npm ci --omit=dev)`,
      );
    } else {
      if (!/--omit[= ]dev\b/.test(install.run))
        fail(`installs ${app.project}'s dependencies without --omit=dev (devDependencies would ship)`);
      if (manifests.some((copies) => copies.every((copy) => copy.at > install.index)))
        fail(`installs ${app.project}'s dependencies before copying its manifests`);
      if (whole.some((copy) => copy.at < install.index))
        fail(`copies ${app.project}'s bundle before npm ci (a code change would reinstall)`);
    }
  }
  const pullJs = plainDefault(settings, 'MODEL_PULL_JS');
  if (!copiedTo(/model-pull\.js$/).some((copy) => copy.target === pullJs))
    fail(`does not copy model-pull.js to ${pullJs} (MODEL_PULL_JS in ${ALL_IN_ONE.entrypoint})`);

  // Files from the build context: they exist, the build context has them, and the three files the entry
  // point needs side by side are side by side; the entry point is the image's.
  for (const p of placed.filter((p) => (p.kind === 'COPY' || p.kind === 'ADD') && !p.from)) {
    for (const source of p.sources) {
      if (!exists(source)) fail(`copies ${source}, which does not exist`);
      else if (isIgnored(files.dockerignore, source))
        fail(`copies ${source}, which .dockerignore leaves out`);
    }
  }
  const contextTarget = (name: string) =>
    placed.flatMap((p) =>
      p.from ? [] : p.sources.flatMap((s, i) => (posix.basename(s) === name ? [p.targets[i]] : [])),
    )[0];
  const entrypointPath = contextTarget(posix.basename(ALL_IN_ONE.entrypoint));
  const listener = /^%\(here\)s\/([\w.-]+)$/.exec(
    [...parseIni(files.supervisorConf)]
      .find(([name]) => name.startsWith('eventlistener:'))?.[1]
      .get('command') ?? '',
  )?.[1];
  for (const name of [posix.basename(ALL_IN_ONE.supervisorConf), ...(listener ? [listener] : [])]) {
    const target = contextTarget(name);
    if (!target || !entrypointPath || posix.dirname(target) !== posix.dirname(entrypointPath))
      fail(`does not copy ${name} beside entrypoint.sh (the entry point and supervisord look for it there)`);
  }
  for (const p of placed.filter((p) => !p.from && p.sources.some((s) => s.endsWith('.sh')))) {
    if (!p.flags.some((flag) => /^--chmod=0?7[57][57]$/.test(flag)))
      fail(
        `copies ${p.sources.filter((s) => s.endsWith('.sh')).join(', ')} without --chmod=0755 (they are run)`,
      );
  }
  const entrypoint = runtime.instructions.filter((i) => keyword(i) === 'ENTRYPOINT').at(-1);
  const entryArgs =
    entrypoint instanceof JSONInstruction ? entrypoint.getJSONStrings().map((arg) => arg.getJSONValue()) : [];
  if (!entrypointPath || JSON.stringify(entryArgs) !== JSON.stringify([entrypointPath]))
    fail(`ENTRYPOINT is not ["${entrypointPath ?? '<entrypoint.sh>'}"] (exec form, so it gets SIGTERM)`);
  if (runtime.instructions.some((i) => keyword(i) === 'CMD'))
    fail('has a CMD; the entry point takes no arguments');

  // Redis and supervisord from Debian, without recommends, the package lists removed.
  const apt = placed.find((p) => p.kind === 'RUN' && /\bapt-get\b.*\binstall\b/.test(p.run));
  if (!apt) fail(`does not install ${ALL_IN_ONE.packages.join(' and ')}`);
  else {
    for (const pkg of ALL_IN_ONE.packages) {
      if (!new RegExp(`\\s${pkg}(\\s|$)`).test(apt.run)) fail(`does not install ${pkg}`);
    }
    if (!/--no-install-recommends\b/.test(apt.run)) fail('installs packages without --no-install-recommends');
    if (!/rm -rf \/var\/lib\/apt\/lists/.test(apt.run)) fail("keeps apt's package lists in the image");
  }

  // Variables: each one an app or the entry point reads; the gateway on every address, on a Space's port.
  const env = envOf(runtime);
  if (env.get('NODE_ENV') !== 'production') fail('NODE_ENV is not production');
  const known = new Set([
    ...ALL_IN_ONE.apps.flatMap((app) => schemaOf(app.project).map((variable) => variable.name)),
    ...settings.keys(),
    ...RUNTIME_ENV,
  ]);
  for (const name of env.keys()) {
    if (!known.has(name)) fail(`ENV ${name} is not a variable the apps or ${ALL_IN_ONE.entrypoint} read`);
  }
  const port = env.get('PORT');
  if (port !== ALL_IN_ONE.spacePort)
    fail(`PORT is ${port ?? 'unset'}, not ${ALL_IN_ONE.spacePort} (a Space's app_port)`);
  if (env.get('HOST') !== '0.0.0.0')
    fail(`HOST is ${env.get('HOST') ?? 'unset'}: the gateway must listen on 0.0.0.0`);

  const users = runtime.instructions
    .filter((i) => keyword(i) === 'USER')
    .map((i) => argumentValues(i)[0] ?? '');
  const user = users.at(-1);
  if (user === undefined) fail('no USER (it would run as root)');
  else if (/^(root|0)(:.*)?$/.test(user)) fail(`runs as ${user}`);
  const dataDir = plainDefault(settings, 'DATA_DIR');
  const prepared = placed.some(
    (p) =>
      p.kind === 'RUN' &&
      p.run.includes(`mkdir -p ${dataDir}`) &&
      new RegExp(`chown ${user}(:\\S+)? ${dataDir}\\b`).test(p.run),
  );
  if (!dataDir || !prepared)
    fail(`does not create DATA_DIR (${dataDir}) owned by ${user}, where a volume starts from`);

  const exposed = runtime.instructions.filter((i) => keyword(i) === 'EXPOSE').flatMap(argumentValues);
  if (JSON.stringify(exposed.map((value) => value.replace(/\/tcp$/, ''))) !== JSON.stringify([port]))
    fail(`EXPOSE ${exposed.join(' ') || 'nothing'}, not only PORT ${port}`);

  const health =
    runtime.instructions
      .filter((i) => keyword(i) === 'HEALTHCHECK')
      .at(-1)
      ?.getRawArgumentsContent() ?? '';
  if (!health || /^NONE\b/i.test(health.trim())) fail('no HEALTHCHECK');
  else {
    if (!health.includes("'/health/ready'"))
      fail("the HEALTHCHECK does not request the gateway's /health/ready");
    if (!new RegExp(`process\\.env\\.PORT \\|\\| ${port}\\b`).test(health))
      fail(`the HEALTHCHECK does not use PORT (default ${port})`);
    for (const [, name] of health.matchAll(/process\.env\.([A-Z_][A-Z0-9_]*)/g)) {
      if (name !== 'PORT') fail(`the HEALTHCHECK reads ${name}, not PORT`);
    }
    if (/\bcurl\b|\bwget\b/.test(health)) fail('the HEALTHCHECK uses curl/wget, which slim images lack');
  }
  return problems;
}

/** The runtime stage's working directory just before instruction `index`. */
function workdirBefore(stage: Stage, index: number): string {
  let workdir = '/';
  for (const instruction of stage.instructions.slice(0, index)) {
    if (keyword(instruction) === 'WORKDIR')
      workdir = posix.resolve(workdir, argumentValues(instruction)[0] ?? '.');
  }
  return workdir;
}
