import { DEPLOYABLE_APPS } from './apps';
import {
  AppSchemas,
  checkAccessKeys,
  checkAppEnvironments,
  checkAppPorts,
  checkBuilds,
  checkDependsOn,
  checkGrafana,
  checkHostPortsUnique,
  checkImagesPinned,
  checkRedis,
  checkRedisExporter,
  checkRedisSettings,
  checkWorker,
  interpolateCompose,
  parseCompose,
} from './compose';
import { validateComposeSchema } from './compose-schema';
import { activeValues, parseEnvFile } from './env-file';
import { appSchemas, loadCompose, mutate, read, schemaOf } from './fixtures';
import { WORKSPACE_ROOT } from './workspace';

const compose = read('compose');
const envExample = activeValues(parseEnvFile(read('envExample')));
let schemas: AppSchemas;

beforeAll(() => {
  schemas = appSchemas();
});

const worker = () => schemaOf('inference-worker');

describe('docker-compose.yml', () => {
  describe('compose-spec schema', () => {
    it('is valid once interpolated with .env.example and the required secret', () => {
      const { file, problems } = loadCompose();
      expect(problems).toEqual([]);
      expect(validateComposeSchema(file)).toEqual([]);
    });

    it('refuses to start without the secrets .env.example leaves empty', () => {
      const { problems } = interpolateCompose(parseCompose(compose), envExample);
      expect(problems.map((problem) => problem.split(' ')[0]).sort()).toEqual([
        'ADMIN_API_KEYS',
        'API_KEYS',
        'GRAFANA_ADMIN_PASSWORD',
        'REDIS_PASSWORD',
      ]);
      expect(problems).toContainEqual(
        'REDIS_PASSWORD is required: set REDIS_PASSWORD in .env (see .env.example)',
      );
    });

    it('catches keys, types and formats the spec does not allow', () => {
      const typo = loadCompose(
        mutate(compose, 'restart: unless-stopped', 'restart_policy: unless-stopped'),
      ).file;
      expect(validateComposeSchema(typo)).toContainEqual(expect.stringContaining('restart_policy'));
      const replicas = loadCompose(mutate(compose, '${WORKER_REPLICAS:-1}', 'two')).file;
      expect(validateComposeSchema(replicas)).toContainEqual(expect.stringContaining('/deploy/replicas'));
      const duration = loadCompose(mutate(compose, 'interval: 5s', 'interval: 5 seconds')).file;
      expect(validateComposeSchema(duration)).toContainEqual(expect.stringContaining('format "duration"'));
      const port = loadCompose(mutate(compose, "- '3001'", "- 'health'")).file;
      expect(validateComposeSchema(port)).toContainEqual(expect.stringContaining('/expose/0'));
    });

    it('needs interpolation: the raw replica count is a string', () => {
      expect(validateComposeSchema(parseCompose(compose))).toContainEqual(
        expect.stringContaining('/deploy/replicas'),
      );
    });
  });

  describe('builds', () => {
    it('build every app from its Dockerfile with the repository root as context', () => {
      expect(checkBuilds(loadCompose().file, DEPLOYABLE_APPS, WORKSPACE_ROOT)).toEqual([]);
    });

    it('catch a missing Dockerfile, a wrong context and a swapped Dockerfile', () => {
      const missing = loadCompose(
        mutate(compose, 'apps/gateway/Dockerfile', 'apps/gateway/Dockerfile.prod'),
      ).file;
      expect(checkBuilds(missing, DEPLOYABLE_APPS, WORKSPACE_ROOT)).toEqual([
        'gateway: build.dockerfile apps/gateway/Dockerfile.prod does not exist',
        'gateway: build.dockerfile must be apps/gateway/Dockerfile',
      ]);
      const context = loadCompose(mutate(compose, /context: \./, 'context: apps/gateway')).file;
      expect(checkBuilds(context, DEPLOYABLE_APPS, WORKSPACE_ROOT)).toContainEqual(
        'gateway: build context is apps/gateway, want the repository root (".")',
      );
      const swapped = loadCompose(
        mutate(
          compose,
          'dockerfile: apps/gateway/Dockerfile',
          'dockerfile: apps/inference-worker/Dockerfile',
        ),
      ).file;
      expect(checkBuilds(swapped, DEPLOYABLE_APPS, WORKSPACE_ROOT)).toEqual([
        'gateway: build.dockerfile must be apps/gateway/Dockerfile',
      ]);
    });
  });

  describe('app environments', () => {
    it('pass exactly the variables each app reads (its --env-schema)', () => {
      expect(checkAppEnvironments(loadCompose().file, DEPLOYABLE_APPS, schemas)).toEqual([]);
    });

    it('catch a variable the app does not read, and one it reads that is not passed', () => {
      const typo = loadCompose(
        mutate(compose, 'JOB_ATTEMPTS: ${JOB_ATTEMPTS:-}', 'JOB_ATTEMPT: ${JOB_ATTEMPTS:-}'),
      ).file;
      expect(checkAppEnvironments(typo, DEPLOYABLE_APPS, schemas)).toEqual([
        'gateway: environment JOB_ATTEMPT is not a variable gateway reads',
        'gateway: environment lacks JOB_ATTEMPTS (gateway reads it)',
      ]);
    });

    it('catch drift in the code: a variable the app starts reading', () => {
      const grown = new Map(schemas);
      grown.set('gateway', [
        ...schemaOf('gateway'),
        { name: 'METRICS_ENABLED', kind: 'boolean', default: true },
      ]);
      expect(checkAppEnvironments(loadCompose().file, DEPLOYABLE_APPS, grown)).toEqual([
        'gateway: environment lacks METRICS_ENABLED (gateway reads it)',
      ]);
    });
  });

  describe('ports', () => {
    it("publish, expose and health-check each app's port variable", () => {
      const { file } = loadCompose();
      expect(checkAppPorts(file, DEPLOYABLE_APPS, schemas)).toEqual([]);
      expect(checkHostPortsUnique(file)).toEqual([]);
    });

    it('catch a port that is not the one the app listens on', () => {
      const published = loadCompose(
        mutate(compose, '${GATEWAY_PORT:-3000}:3000', '${GATEWAY_PORT:-3000}:8080'),
      ).file;
      expect(checkAppPorts(published, DEPLOYABLE_APPS, schemas)).toEqual([
        'gateway (PORT=3000): publishes container port 8080',
      ]);
      const env = loadCompose(mutate(compose, "PORT: '3000'", "PORT: '8080'")).file;
      expect(checkAppPorts(env, DEPLOYABLE_APPS, schemas)).toEqual([
        'gateway (PORT=8080): publishes container port 3000',
        'gateway (PORT=8080): healthcheck does not request :8080/health/live',
      ]);
      const exposed = loadCompose(mutate(compose, "- '3001'", "- '9464'")).file;
      expect(checkAppPorts(exposed, DEPLOYABLE_APPS, schemas)).toEqual([
        'inference-worker (HEALTH_PORT=3001): exposes port 9464',
      ]);
    });

    it('catch a scaled worker publishing a host port, and two services on one host port', () => {
      const published = loadCompose(
        mutate(compose, "expose:\n      - '3001'", "ports:\n      - '3001:3001'"),
      ).file;
      expect(checkAppPorts(published, DEPLOYABLE_APPS, schemas)).toEqual([
        'inference-worker: publishes a host port, which replicas would fight over',
      ]);
      const clash = loadCompose(
        compose,
        mutate(read('envExample'), 'GRAFANA_PORT=3002', 'GRAFANA_PORT=3000'),
      ).file;
      expect(checkHostPortsUnique(clash)).toEqual(['grafana and gateway both publish 127.0.0.1:3000']);
    });
  });

  describe('redis', () => {
    it('is fit for BullMQ, capped, password-protected, persistent, health-checked, and what the apps wait for', () => {
      expect(checkRedis(loadCompose().file, DEPLOYABLE_APPS, schemas)).toEqual([]);
      expect(checkRedisSettings(loadCompose().raw)).toEqual([]);
    });

    it('catches no password, an app without it, a healthcheck without it, and no memory cap', () => {
      const open = loadCompose(mutate(compose, /\n {6}- --requirepass\n {6}- [^\n]+/, '')).file;
      expect(checkRedis(open, DEPLOYABLE_APPS, schemas)).toEqual([
        'redis: no --requirepass (anyone who reaches it may read and write the queue)',
      ]);
      expect(
        checkRedisSettings(loadCompose(mutate(compose, /\n {6}- --requirepass\n {6}- [^\n]+/, '')).raw),
      ).toEqual(['redis: --requirepass  is not a required variable (${NAME:?message})']);
      const withoutPassword = loadCompose(
        mutate(
          compose,
          'REDIS_URL: ${REDIS_URL:-redis://:${REDIS_PASSWORD}@redis:6379}',
          'REDIS_URL: ${REDIS_URL:-redis://redis:6379}',
        ),
      ).file;
      expect(checkRedis(withoutPassword, DEPLOYABLE_APPS, schemas)).toEqual([
        "gateway: REDIS_URL redis://redis:6379 does not carry redis's password",
      ]);
      const unauthenticated = loadCompose(
        mutate(compose, /test: \['CMD-SHELL', 'REDISCLI_AUTH=[^\n]+/, "test: ['CMD', 'redis-cli', 'ping']"),
      ).file;
      expect(checkRedis(unauthenticated, DEPLOYABLE_APPS, schemas)).toEqual([
        'redis: the healthcheck does not authenticate (REDISCLI_AUTH), so it fails with NOAUTH',
      ]);
      const uncapped = loadCompose(mutate(compose, /\n {6}- --maxmemory\n {6}- [^\n]+/, '')).file;
      expect(checkRedis(uncapped, DEPLOYABLE_APPS, schemas)).toEqual([
        'redis: no --maxmemory (Redis would grow until the host runs out of memory)',
      ]);
      const zero = loadCompose(
        compose,
        mutate(read('envExample'), 'REDIS_MAXMEMORY=1gb', 'REDIS_MAXMEMORY=0'),
      ).file;
      expect(checkRedis(zero, DEPLOYABLE_APPS, schemas)).toEqual(['redis: --maxmemory 0 (no cap)']);
    });

    it('takes its password from a required variable and its cap from .env with a default', () => {
      const defaulted = mutate(
        compose,
        /- \$\{REDIS_PASSWORD:\?[^}]*\}\n {6}- --maxmemory/,
        '- ${REDIS_PASSWORD:-redis}\n      - --maxmemory',
      );
      expect(checkRedisSettings(parseCompose(defaulted))).toEqual([
        'redis: --requirepass ${REDIS_PASSWORD:-redis} is not a required variable (${NAME:?message})',
      ]);
      const noDefaultCap = mutate(compose, '${REDIS_MAXMEMORY:-1gb}', '${REDIS_MAXMEMORY:-0}');
      expect(checkRedisSettings(parseCompose(noDefaultCap))).toEqual([
        'redis: --maxmemory ${REDIS_MAXMEMORY:-0} has no cap when .env leaves it out; give it a default such as 512mb',
      ]);
      const fixed = mutate(compose, '${REDIS_MAXMEMORY:-1gb}', '512mb');
      expect(checkRedisSettings(parseCompose(fixed))).toEqual([
        'redis: --maxmemory 512mb is fixed; take it from .env (${REDIS_MAXMEMORY:-512mb})',
      ]);
    });

    it('has an exporter that reads it with its password, for the Redis alerts', () => {
      expect(checkRedisExporter(loadCompose().file)).toEqual([]);
      const elsewhere = loadCompose(
        mutate(compose, 'REDIS_ADDR: redis://redis:6379', 'REDIS_ADDR: redis://cache:6379'),
      ).file;
      expect(checkRedisExporter(elsewhere)).toEqual([
        'redis-exporter: REDIS_ADDR redis://cache:6379 does not name the "redis" service',
      ]);
      const noPassword = loadCompose(
        mutate(
          compose,
          /\n {6}REDIS_PASSWORD: \$\{REDIS_PASSWORD:\?[^}]*\}\n {6}# redis_total/,
          '\n      # redis_total',
        ),
      ).file;
      expect(checkRedisExporter(noPassword)).toEqual([
        "redis-exporter: does not pass redis's password (REDIS_PASSWORD)",
      ]);
      const none = loadCompose(mutate(compose, 'oliver006/redis_exporter:', 'example/exporter:')).file;
      expect(checkRedisExporter(none)).toEqual([
        'no redis exporter service (oliver006/redis_exporter), so the Redis alerts have no data',
      ]);
    });

    it('catches eviction, no AOF, an app pointed elsewhere and an app that does not wait', () => {
      const evicting = loadCompose(mutate(compose, '- noeviction', '- allkeys-lru')).file;
      expect(checkRedis(evicting, DEPLOYABLE_APPS, schemas)).toEqual([
        'redis: maxmemory-policy is not noeviction, which BullMQ requires',
      ]);
      const noAof = loadCompose(mutate(compose, "- 'yes'", "- 'no'")).file;
      expect(checkRedis(noAof, DEPLOYABLE_APPS, schemas)).toEqual([
        'redis: AOF is off (want --appendonly yes)',
      ]);
      const loopback = loadCompose(
        mutate(
          compose,
          'REDIS_URL: ${REDIS_URL:-redis://:${REDIS_PASSWORD}@redis:6379}',
          'REDIS_URL: ${REDIS_URL_GATEWAY:-}',
        ),
      ).file;
      expect(checkRedis(loopback, DEPLOYABLE_APPS, schemas)).toEqual([
        'gateway: REDIS_URL redis://127.0.0.1:6379 does not name the "redis" service',
      ]);
      const eager = loadCompose(
        mutate(compose, 'condition: service_healthy', 'condition: service_started'),
      ).file;
      expect(checkRedis(eager, DEPLOYABLE_APPS, schemas)).toEqual([
        'gateway: does not wait for redis (depends_on condition: service_healthy)',
      ]);
    });
  });

  describe('dependencies and images', () => {
    it('depend on defined, health-checked services and pin pulled images', () => {
      const { file } = loadCompose();
      expect(checkDependsOn(file)).toEqual([]);
      expect(checkImagesPinned(file)).toEqual([]);
    });

    it('catch an unknown dependency, waiting on a service without healthcheck, and floating tags', () => {
      const unknown = loadCompose(
        mutate(compose, /depends_on:\n {6}redis:/, 'depends_on:\n      cache:'),
      ).file;
      expect(checkDependsOn(unknown)).toEqual(['gateway: depends on unknown service cache']);
      const unhealthy = loadCompose(
        mutate(
          compose,
          /prometheus:\n {8}condition: service_started/,
          'prometheus:\n        condition: service_healthy',
        ),
      ).file;
      expect(checkDependsOn(unhealthy)).toEqual([
        'grafana: waits for prometheus to be healthy, but prometheus has no healthcheck',
      ]);
      let floating = mutate(compose, /redis:7\.4\.5-alpine@sha256:[0-9a-f]{64}/, 'redis:7-alpine');
      floating = mutate(floating, /grafana\/grafana:12\.1\.1@sha256:[0-9a-f]{64}/, 'grafana/grafana:latest');
      floating = mutate(floating, 'prom/prometheus:v3.5.0', 'prom/prometheus');
      floating = mutate(
        floating,
        'oliver006/redis_exporter:v1.88.0',
        `oliver006/redis_exporter@sha256:${'0'.repeat(64)}`,
      );
      expect(checkImagesPinned(loadCompose(floating).file)).toEqual([
        expect.stringMatching(/^redis: image "redis:7-alpine" is not pinned/),
        expect.stringMatching(
          /^redis-exporter: image "oliver006\/redis_exporter@sha256:0+" has a digest but no tag/,
        ),
        expect.stringMatching(/^prometheus: image "prom\/prometheus" has no tag/),
        expect.stringMatching(/^grafana: image "grafana\/grafana:latest" uses "latest"/),
      ]);
    });
  });

  describe('inference worker', () => {
    it('reads a read-only mounted model, scales by WORKER_REPLICAS and outlasts its own shutdown', () => {
      const { raw, file } = loadCompose();
      expect(checkWorker(raw, file, worker())).toEqual([]);
    });

    it('catches a writable or unmounted model, a fixed replica count and a short grace period', () => {
      const writable = loadCompose(mutate(compose, 'read_only: true', 'read_only: false'));
      expect(checkWorker(writable.raw, writable.file, worker())).toEqual([
        'inference-worker: the model mount /models is writable (mount it read-only)',
      ]);
      const elsewhere = loadCompose(
        compose,
        mutate(read('envExample'), 'MODEL_DIR=/models/', 'MODEL_DIR=/opt/'),
      );
      expect(checkWorker(elsewhere.raw, elsewhere.file, worker())).toEqual([
        'inference-worker: MODEL_DIR /opt/twitter-roberta-base-sentiment-latest is not inside a mounted volume',
      ]);
      const fixed = loadCompose(mutate(compose, '${WORKER_REPLICAS:-1}', '2'));
      expect(checkWorker(fixed.raw, fixed.file, worker())).toEqual([
        'inference-worker: deploy.replicas is not set from ${WORKER_REPLICAS}',
      ]);
      const short = loadCompose(mutate(compose, 'stop_grace_period: 30s', 'stop_grace_period: 20s'));
      expect(checkWorker(short.raw, short.file, worker())).toEqual([
        expect.stringContaining('stop_grace_period 20s is not longer than SHUTDOWN_TIMEOUT_MS 20000'),
      ]);
    });
  });

  describe('API keys', () => {
    it('are required for the gateway and the drift monitor, with AUTH on', () => {
      expect(checkAccessKeys(loadCompose().raw, DEPLOYABLE_APPS)).toEqual([]);
    });

    it('catch an optional key, a missing one and AUTH off', () => {
      const optional = mutate(
        compose,
        'API_KEYS: ${API_KEYS:?set API_KEYS in .env (see .env.example)}',
        'API_KEYS: ${API_KEYS:-}',
      );
      expect(checkAccessKeys(parseCompose(optional), DEPLOYABLE_APPS)).toEqual([
        'gateway: API_KEYS is ${API_KEYS:-}, not required (${API_KEYS:?message})',
      ]);
      const missing = mutate(
        compose,
        /\n {6}ADMIN_API_KEYS: [^\n]+\n {6}AUTH: 'on'\n {6}SCHEDULE/,
        "\n      AUTH: 'on'\n      SCHEDULE",
      );
      expect(checkAccessKeys(parseCompose(missing), DEPLOYABLE_APPS)).toEqual([
        'drift-monitor: environment lacks ADMIN_API_KEYS, which it requires',
      ]);
      const off = mutate(compose, "AUTH: 'on'", 'AUTH: ${AUTH:-off}');
      expect(checkAccessKeys(parseCompose(off), DEPLOYABLE_APPS)).toEqual([
        'gateway: AUTH is ${AUTH:-off}; the stack serves its API with keys only (on)',
      ]);
    });
  });

  describe('grafana', () => {
    it('requires an admin password and mounts provisioning', () => {
      expect(checkGrafana(loadCompose().raw, envExample)).toEqual([]);
    });

    it('catches a default password, admin/admin from .env.example, and no provisioning', () => {
      const defaulted = loadCompose(
        mutate(compose, /\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]*\}/, '${GRAFANA_ADMIN_PASSWORD:-admin}'),
      ).raw;
      expect(checkGrafana(defaulted, envExample)).toEqual([
        expect.stringContaining('GF_SECURITY_ADMIN_PASSWORD has a default ("admin")'),
        'grafana: the admin login would be admin/admin',
      ]);
      expect(checkGrafana(loadCompose().raw, { ...envExample, GRAFANA_ADMIN_PASSWORD: 'admin' })).toEqual([
        'grafana: the admin login would be admin/admin',
      ]);
      const unprovisioned = loadCompose(
        mutate(compose, /\n\s+- \.\/monitoring\/grafana\/provisioning:[^\n]*/, ''),
      ).raw;
      expect(checkGrafana(unprovisioned, envExample)).toEqual([
        'grafana: monitoring/grafana/provisioning is not mounted at /etc/grafana/provisioning',
      ]);
    });
  });
});
