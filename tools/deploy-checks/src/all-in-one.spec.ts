import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ALL_IN_ONE,
  type AllInOneFiles,
  checkAllInOneDockerfile,
  checkEntrypoint,
  checkSupervisorConf,
  entrypointExports,
  entrypointSettings,
  shellcheckProblems,
} from './all-in-one';
import { DEPLOYABLE_APPS } from './apps';
import { baseImages, checkNodeEngine, checkSameBaseImage } from './dockerfile';
import { appSchemas, mutate, read, schemaOf } from './fixtures';
import { readWorkspaceFile, WORKSPACE_ROOT } from './workspace';

// Reads (building first if needed) the apps' env schemas once, under the hook's long timeout.
beforeAll(() => {
  appSchemas();
});

const files = (): AllInOneFiles => ({
  dockerfile: readWorkspaceFile(ALL_IN_ONE.dockerfile),
  entrypoint: readWorkspaceFile(ALL_IN_ONE.entrypoint),
  supervisorConf: readWorkspaceFile(ALL_IN_ONE.supervisorConf),
  projectJson: readWorkspaceFile(ALL_IN_ONE.projectJson),
  dockerignore: read('dockerignore'),
});
const exists = (path: string) => existsSync(join(WORKSPACE_ROOT, path));
const checkDockerfile = (changed: Partial<AllInOneFiles> = {}) =>
  checkAllInOneDockerfile({ ...files(), ...changed }, schemaOf, exists);
const checkConf = (changed: Partial<AllInOneFiles> = {}) =>
  checkSupervisorConf({ ...files(), ...changed }, schemaOf);
/** The file with `from` replaced (which must be there). */
const changed = (file: keyof AllInOneFiles, from: string | RegExp, to: string) => ({
  [file]: mutate(files()[file], from, to),
});

describe('the all-in-one image', () => {
  it('passes every check: Dockerfile, supervisord.conf, entrypoint.sh, shellcheck', () => {
    expect(checkDockerfile()).toEqual([]);
    expect(checkConf()).toEqual([]);
    expect(checkEntrypoint(files().entrypoint)).toEqual([]);
    for (const script of [ALL_IN_ONE.entrypoint, 'apps/all-in-one/exit-on-fatal.sh']) {
      expect(shellcheckProblems(script, readWorkspaceFile(script))).toEqual([]);
    }
  });

  it("reads the entry point's settings and exports", () => {
    const settings = entrypointSettings(files().entrypoint);
    expect(settings.get('DATA_DIR')).toBe('/data');
    expect(settings.get('GATEWAY_DIR')).toBe('/app/gateway');
    expect(settings.get('MODEL_DIR')).toBe('$DATA_DIR/models/${MODEL_REPO##*/}');
    expect([...entrypointExports(files().entrypoint)]).toEqual(
      expect.arrayContaining(['RUN_DIR', 'GATEWAY_DIR', 'WORKER_DIR', 'REDIS_URL']),
    );
  });

  it("starts from the apps' base image, which satisfies package.json's engines", () => {
    const dockerfile = files().dockerfile;
    const engine = (
      JSON.parse(readFileSync(join(WORKSPACE_ROOT, 'package.json'), 'utf8')) as {
        engines: { node: string };
      }
    ).engines.node;
    expect(checkNodeEngine(dockerfile, ALL_IN_ONE.dockerfile, engine)).toEqual([]);
    const all = Object.fromEntries([
      ...DEPLOYABLE_APPS.map((app) => [app.dockerfile, readWorkspaceFile(app.dockerfile)]),
      [ALL_IN_ONE.dockerfile, dockerfile],
    ]);
    expect(checkSameBaseImage(all)).toEqual([]);
    all[ALL_IN_ONE.dockerfile] = mutate(
      dockerfile,
      /@sha256:[0-9a-f]{64} AS runtime/,
      `@sha256:${'1'.repeat(64)} AS runtime`,
    );
    expect(checkSameBaseImage(all)).toEqual([expect.stringMatching(/start from different base images/)]);
    expect(baseImages(dockerfile)).toHaveLength(2);
  });

  describe('Dockerfile', () => {
    it.each<[string, Partial<AllInOneFiles>, RegExp]>([
      [
        'an unpinned base image',
        changed('dockerfile', /@sha256:[0-9a-f]{64} AS build/, ' AS build'),
        /is not pinned by digest/,
      ],
      [
        'npm install',
        changed('dockerfile', 'RUN npm ci --no-audit', 'RUN npm install --no-audit'),
        /runs "npm install"/,
      ],
      [
        'a build of one app only',
        changed('dockerfile', 'nx build all-in-one', 'nx build gateway'),
        /no stage runs "nx build all-in-one"/,
      ],
      [
        'a gateway where the entry point does not look',
        changed('dockerfile', 'dist/apps/gateway/ gateway/', 'dist/apps/gateway/ gw/'),
        /does not copy dist\/apps\/gateway\/ to \/app\/gateway \(GATEWAY_DIR/,
      ],
      [
        "the worker's devDependencies",
        changed('dockerfile', 'cd inference-worker && npm ci --omit=dev', 'cd inference-worker && npm ci'),
        /installs inference-worker's dependencies without --omit=dev/,
      ],
      [
        'a bundle copied before its dependencies',
        changed(
          'dockerfile',
          /(COPY --from=build \/repo\/dist\/apps\/gateway\/package\.json [^\n]*\n)/,
          'COPY --from=build /repo/dist/apps/gateway/ gateway/\n$1',
        ),
        /copies gateway's bundle before npm ci/,
      ],
      [
        'a file that does not exist',
        changed(
          'dockerfile',
          'COPY apps/all-in-one/supervisord.conf',
          'COPY apps/all-in-one/supervisor.conf',
        ),
        /copies apps\/all-in-one\/supervisor\.conf, which does not exist/,
      ],
      [
        'a file the build context leaves out',
        changed('dockerignore', '.ci\n', '.ci\napps/all-in-one/*.sh\n'),
        /copies apps\/all-in-one\/entrypoint\.sh, which \.dockerignore leaves out/,
      ],
      [
        'scripts that cannot run',
        changed('dockerfile', 'COPY --chmod=0755 ', 'COPY '),
        /without --chmod=0755/,
      ],
      [
        'an entry point in shell form',
        changed('dockerfile', 'ENTRYPOINT ["/app/bin/entrypoint.sh"]', 'ENTRYPOINT /app/bin/entrypoint.sh'),
        /ENTRYPOINT is not \["\/app\/bin\/entrypoint\.sh"\]/,
      ],
      [
        'a baked-in model',
        changed('dockerfile', 'USER node', 'COPY models/ /data/models/\nUSER node'),
        /models are mounted/,
      ],
      ['root', changed('dockerfile', 'USER node', 'USER root'), /runs as root/],
      [
        'no supervisor',
        changed('dockerfile', 'redis-server supervisor', 'redis-server'),
        /does not install supervisor/,
      ],
      [
        'recommended packages',
        changed('dockerfile', ' --no-install-recommends', ''),
        /without --no-install-recommends/,
      ],
      [
        'a variable nobody reads',
        changed('dockerfile', 'PORT=7860', 'PORT=7860 \\\n    MODEL_PATH=/data'),
        /ENV MODEL_PATH is not a variable/,
      ],
      [
        "another port than a Space's",
        changed('dockerfile', 'PORT=7860', 'PORT=3000'),
        /PORT is 3000, not 7860/,
      ],
      [
        'a gateway on loopback',
        changed('dockerfile', 'HOST=0.0.0.0', 'HOST=127.0.0.1'),
        /must listen on 0\.0\.0\.0/,
      ],
      [
        'a liveness-only healthcheck',
        changed('dockerfile', "'/health/ready'", "'/health/live'"),
        /does not request the gateway's \/health\/ready/,
      ],
      [
        'a data folder the user cannot write',
        changed('dockerfile', 'RUN mkdir -p /data && chown node:node /data', 'RUN mkdir -p /data'),
        /does not create DATA_DIR \(\/data\) owned by node/,
      ],
      [
        'an all-in-one build that does not build the worker',
        changed('projectJson', '"gateway", "inference-worker", "model-pull"', '"gateway", "model-pull"'),
        /does not build inference-worker first/,
      ],
    ])('catches %s', (_case, change, problem) => {
      expect(checkDockerfile(change).join('\n')).toMatch(problem);
    });
  });

  describe('supervisord.conf', () => {
    it.each<[string, Partial<AllInOneFiles>, RegExp]>([
      [
        'a worker killed before its shutdown timeout',
        changed('supervisorConf', 'stopwaitsecs=30', 'stopwaitsecs=10'),
        /program inference-worker gets stopwaitsecs=10 to stop, but inference-worker may take 25 s/,
      ],
      [
        'a gateway given more time than supervisord waits',
        changed('supervisorConf', 'SHUTDOWN_TIMEOUT_MS="10000"', 'SHUTDOWN_TIMEOUT_MS="60000"'),
        /program gateway gets stopwaitsecs=15 to stop, but gateway may take 65 s/,
      ],
      [
        'the gateway started before the worker',
        changed('supervisorConf', 'priority=30', 'priority=15'),
        /starts redis, gateway, inference-worker/,
      ],
      [
        'a variable the entry point does not export',
        changed(
          'supervisorConf',
          'command=node %(ENV_WORKER_DIR)s/main.js',
          'command=node %(ENV_WORKER_HOME)s/main.js',
        ),
        /reads %\(ENV_WORKER_HOME\)s, which apps\/all-in-one\/entrypoint\.sh does not export/,
      ],
      [
        "the worker's health port open to the network",
        changed('supervisorConf', 'HEALTH_HOST="127.0.0.1"', 'HEALTH_HOST="0.0.0.0"'),
        /program inference-worker listens on HEALTH_HOST=0\.0\.0\.0, not loopback/,
      ],
      [
        'a setting the app does not read',
        changed(
          'supervisorConf',
          'environment=SHUTDOWN_TIMEOUT_MS',
          'environment=GRACE_MS="1",SHUTDOWN_TIMEOUT_MS',
        ),
        /program gateway sets GRACE_MS, which gateway does not read/,
      ],
      [
        'a program left dead',
        changed('supervisorConf', /autorestart=true/, 'autorestart=false'),
        /program redis is not restarted/,
      ],
      [
        'no listener for a program that cannot start',
        changed('supervisorConf', 'events=PROCESS_STATE_FATAL', 'events=PROCESS_STATE_EXITED'),
        /no event listener for PROCESS_STATE_FATAL/,
      ],
      [
        'logs in files nobody reads',
        changed('supervisorConf', /stdout_logfile=\/dev\/stdout/, 'stdout_logfile=/tmp/redis.log'),
        /program redis does not log to stdout/,
      ],
    ])('catches %s', (_case, change, problem) => {
      expect(checkConf(change).join('\n')).toMatch(problem);
    });
  });

  describe('entrypoint.sh', () => {
    const script = () => files().entrypoint;
    it.each<[string, string | RegExp, string, RegExp]>([
      [
        'Redis on every address',
        'bind 127.0.0.1',
        'bind 0.0.0.0',
        /binds Redis to something else than 127\.0\.0\.1/,
      ],
      [
        'Redis that evicts',
        'maxmemory-policy noeviction',
        'maxmemory-policy allkeys-lru',
        /lets Redis evict keys/,
      ],
      ['Redis without a password', 'requirepass $password\n', '', /gives Redis no password/],
      ['a default pin', ': "${MODEL_SHA256:=}"', ': "${MODEL_SHA256:=0}"', /gives MODEL_SHA256 a default/],
      [
        'no sha256 comparison',
        /if \[\[ \$actual != "\$MODEL_SHA256" \]\]; then/,
        'if false; then',
        /does not compare the graph's sha256/,
      ],
    ])('catches %s', (_case, from, to, problem) => {
      expect(checkEntrypoint(mutate(script(), from, to)).join('\n')).toMatch(problem);
    });

    it('runs shellcheck, which catches an unquoted expansion', () => {
      const broken = mutate(script(), 'rm -rf "$MODEL_DIR"\n  pull_model', 'rm -rf $MODEL_DIR\n  pull_model');
      expect(shellcheckProblems(ALL_IN_ONE.entrypoint, broken).join('\n')).toMatch(
        /^apps\/all-in-one\/entrypoint\.sh:\d+:\d+: .*SC2086/m,
      );
    });
  });
});
