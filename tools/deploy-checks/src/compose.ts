import { existsSync, statSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';
import { DeployableApp, WORKER_SERVICE } from './apps';
import { defaultText, EnvSchema } from './env-schema';
import { imagePinProblem } from './images';
import { interpolate, references, VariableReference } from './interpolate';
import { isRecord, parseYaml } from './yaml-file';

/** The parts of a compose file the checks read (the schema check covers the rest). */
export interface ComposeFile {
  services?: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

export interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: (string | number | { target?: number; published?: number | string; host_ip?: string })[];
  expose?: (string | number)[];
  healthcheck?: { test?: string | string[]; disable?: boolean };
  depends_on?: string[] | Record<string, { condition?: string }>;
  volumes?: (string | { type?: string; source?: string; target?: string; read_only?: boolean })[];
  deploy?: { replicas?: number | string };
  container_name?: string;
  stop_grace_period?: string;
}

/** Schemas of the apps, by Nx project name. */
export type AppSchemas = ReadonlyMap<string, EnvSchema>;

export function parseCompose(text: string): ComposeFile {
  const file = parseYaml<unknown>(text, 'docker-compose.yml');
  if (!isRecord(file)) throw new Error('docker-compose.yml is not a mapping');
  return file as ComposeFile;
}

function services(file: ComposeFile): [string, ComposeService][] {
  return Object.entries(file.services ?? {});
}

// ---- interpolation -------------------------------------------------------------------------------

/** Compose casts these fields after interpolation (a `${N:-1}` replica count is a number, not a string). */
const NUMERIC_KEYS = new Set([
  'replicas',
  'retries',
  'scale',
  'published',
  'target',
  'cpu_count',
  'pids_limit',
]);
const BOOLEAN_KEYS = new Set(['read_only', 'tty', 'stdin_open', 'privileged', 'init', 'disable']);

function walkStrings(
  value: unknown,
  visit: (text: string, key: string | undefined) => unknown,
  key?: string,
): unknown {
  if (typeof value === 'string') return visit(value, key);
  if (Array.isArray(value)) return value.map((item) => walkStrings(item, visit, key));
  if (isRecord(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walkStrings(v, visit, k)]));
  }
  return value;
}

/** Every variable the compose file interpolates, in order of appearance. */
export function composeReferences(file: ComposeFile): VariableReference[] {
  const found: VariableReference[] = [];
  walkStrings(file, (text) => found.push(...references(text)));
  return found;
}

/** The compose file as `docker compose config` would see it with the given environment (.env + shell). */
export function interpolateCompose(
  file: ComposeFile,
  env: Readonly<Record<string, string>>,
): { file: ComposeFile; problems: string[] } {
  const problems: string[] = [];
  const resolved = walkStrings(file, (text, key) => {
    if (!text.includes('$')) return text;
    const result = interpolate(text, env);
    problems.push(...result.problems);
    if (key && NUMERIC_KEYS.has(key) && /^-?\d+(\.\d+)?$/.test(result.value)) return Number(result.value);
    if (key && BOOLEAN_KEYS.has(key) && /^(true|false)$/i.test(result.value)) {
      return result.value.toLowerCase() === 'true';
    }
    return result.value;
  });
  return { file: resolved as ComposeFile, problems: [...new Set(problems)] };
}

// ---- helpers over services ------------------------------------------------------------------------

export function environmentOf(service: ComposeService): Record<string, string> {
  const environment = service.environment ?? {};
  if (Array.isArray(environment)) {
    return Object.fromEntries(
      environment.map((entry) => {
        const eq = entry.indexOf('=');
        return eq < 0 ? [entry, ''] : [entry.slice(0, eq), entry.slice(eq + 1)];
      }),
    );
  }
  return Object.fromEntries(
    Object.entries(environment).map(([name, value]) => [name, value === null ? '' : String(value)]),
  );
}

/** What the app reads for a variable inside its container: the compose value, or the app's default when empty. */
export function effectiveValue(service: ComposeService, schema: EnvSchema, name: string): string | undefined {
  const value = environmentOf(service)[name]?.trim();
  return value ? value : defaultText(schema, name);
}

export interface PortMapping {
  hostIp?: string;
  published?: string;
  target: string;
}

/** Short (`[ip:][published:]target[/proto]`) or long port syntax. */
export function parsePort(
  spec: string | number | { target?: number; published?: number | string; host_ip?: string },
): PortMapping {
  if (typeof spec === 'object') {
    return { hostIp: spec.host_ip, published: spec.published?.toString(), target: String(spec.target ?? '') };
  }
  const parts = String(spec)
    .replace(/\/(tcp|udp|sctp)$/, '')
    .split(':');
  const target = parts.pop() ?? '';
  const published = parts.length > 0 ? parts.pop() : undefined;
  const hostIp = parts.length > 0 ? parts.join(':').replace(/^\[|\]$/g, '') : undefined;
  return { hostIp, published: published || undefined, target };
}

function healthcheckText(service: ComposeService): string | undefined {
  const test = service.healthcheck?.test;
  if (test === undefined || service.healthcheck?.disable) return undefined;
  return Array.isArray(test) ? test.join(' ') : test;
}

interface VolumeMount {
  type: string;
  source: string;
  target: string;
  readOnly: boolean;
}

export function mountsOf(service: ComposeService): VolumeMount[] {
  return (service.volumes ?? []).map((volume) => {
    if (typeof volume === 'object') {
      return {
        type: volume.type ?? 'volume',
        source: volume.source ?? '',
        target: volume.target ?? '',
        readOnly: volume.read_only === true,
      };
    }
    const [source, target, mode] = volume.split(':');
    const type = /^[./~]/.test(source) ? 'bind' : 'volume';
    return { type, source, target: target ?? source, readOnly: (mode ?? '').split(',').includes('ro') };
  });
}

function dependsOn(service: ComposeService): Record<string, string> {
  const depends = service.depends_on ?? {};
  if (Array.isArray(depends)) return Object.fromEntries(depends.map((name) => [name, 'service_started']));
  return Object.fromEntries(
    Object.entries(depends).map(([name, spec]) => [name, spec?.condition ?? 'service_started']),
  );
}

function commandText(service: ComposeService): string {
  const command = service.command ?? '';
  return Array.isArray(command) ? command.join(' ') : command;
}

/** Seconds in a compose duration (`1m30s`, `20s`, `500ms`). */
export function durationSeconds(duration: string): number | undefined {
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001, us: 1e-6, ns: 1e-9 };
  const parts = [...duration.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== duration) return undefined;
  return parts.reduce((sum, [, amount, unit]) => sum + Number(amount) * units[unit], 0);
}

function appService(file: ComposeFile, app: DeployableApp): ComposeService | undefined {
  return file.services?.[app.service];
}

function schemaOf(schemas: AppSchemas, app: DeployableApp): EnvSchema {
  const schema = schemas.get(app.project);
  if (!schema) throw new Error(`no env schema for ${app.project}`);
  return schema;
}

// ---- checks -----------------------------------------------------------------------------------------

/** Each app has a service built from its own Dockerfile with the repository root as context. */
export function checkBuilds(file: ComposeFile, apps: readonly DeployableApp[], root: string): string[] {
  const problems: string[] = [];
  for (const [name, service] of services(file)) {
    if (service.build === undefined) continue;
    const build = typeof service.build === 'string' ? { context: service.build } : service.build;
    const context = resolve(root, build.context ?? '.');
    if (context !== resolve(root)) {
      problems.push(`${name}: build context is ${build.context}, want the repository root (".")`);
    }
    const dockerfile = join(context, build.dockerfile ?? 'Dockerfile');
    if (!existsSync(dockerfile) || !statSync(dockerfile).isFile()) {
      problems.push(`${name}: build.dockerfile ${build.dockerfile ?? 'Dockerfile'} does not exist`);
    }
  }
  for (const app of apps) {
    const service = appService(file, app);
    if (!service) {
      problems.push(`no "${app.service}" service for ${app.project}`);
      continue;
    }
    const build = typeof service.build === 'object' ? service.build : undefined;
    if (!build || posix.normalize(build.dockerfile ?? '') !== app.dockerfile) {
      problems.push(`${app.service}: build.dockerfile must be ${app.dockerfile}`);
    }
  }
  return problems;
}

/**
 * Each app service passes exactly the variables its app reads: no key the app ignores (a typo, or a
 * variable that was renamed), and every variable the app has (so .env reaches it).
 */
export function checkAppEnvironments(
  file: ComposeFile,
  apps: readonly DeployableApp[],
  schemas: AppSchemas,
): string[] {
  const problems: string[] = [];
  for (const app of apps) {
    const service = appService(file, app);
    if (!service) continue;
    const schema = schemaOf(schemas, app);
    const known = new Set(schema.map((variable) => variable.name));
    const keys = Object.keys(environmentOf(service));
    for (const key of keys) {
      if (!known.has(key))
        problems.push(`${app.service}: environment ${key} is not a variable ${app.project} reads`);
    }
    for (const variable of schema) {
      if (!keys.includes(variable.name)) {
        problems.push(`${app.service}: environment lacks ${variable.name} (${app.project} reads it)`);
      }
    }
  }
  return problems;
}

/**
 * Published and exposed container ports, the healthcheck URL, are the port the app listens on (its port
 * variable in the service's environment, or the app's default). A scaled service publishes no host port.
 */
export function checkAppPorts(
  file: ComposeFile,
  apps: readonly DeployableApp[],
  schemas: AppSchemas,
): string[] {
  const problems: string[] = [];
  for (const app of apps) {
    const service = appService(file, app);
    if (!service) continue;
    const port = effectiveValue(service, schemaOf(schemas, app), app.portVariable);
    const where = `${app.service} (${app.portVariable}=${port})`;
    const ports = (service.ports ?? []).map(parsePort);
    for (const mapping of ports) {
      if (mapping.target !== port) problems.push(`${where}: publishes container port ${mapping.target}`);
    }
    for (const exposed of service.expose ?? []) {
      const target = String(exposed).replace(/\/(tcp|udp|sctp)$/, '');
      if (target !== port) problems.push(`${where}: exposes port ${target}`);
    }
    if (ports.length === 0 && (service.expose ?? []).length === 0) {
      problems.push(`${where}: neither publishes nor exposes its port`);
    }
    const health = healthcheckText(service);
    if (health === undefined) {
      problems.push(`${where}: no healthcheck`);
    } else if (!health.includes(`:${port}${app.healthPath}`)) {
      problems.push(`${where}: healthcheck does not request :${port}${app.healthPath}`);
    }
    const scaled = app.service === WORKER_SERVICE || service.deploy?.replicas !== undefined;
    if (scaled && ports.some((mapping) => mapping.published !== undefined)) {
      problems.push(`${app.service}: publishes a host port, which replicas would fight over`);
    }
    if (scaled && service.container_name) {
      problems.push(`${app.service}: container_name stops it from scaling`);
    }
  }
  return problems;
}

/** No two services publish the same host address and port. */
export function checkHostPortsUnique(file: ComposeFile): string[] {
  const seen = new Map<string, string>();
  const problems: string[] = [];
  for (const [name, service] of services(file)) {
    for (const mapping of (service.ports ?? []).map(parsePort)) {
      if (!mapping.published) continue;
      const key = `${mapping.hostIp ?? '0.0.0.0'}:${mapping.published}`;
      const other = seen.get(key);
      if (other) problems.push(`${name} and ${other} both publish ${key}`);
      else seen.set(key, name);
    }
  }
  return problems;
}

function redisService(file: ComposeFile): [string, ComposeService] | undefined {
  return services(file).find(([, service]) => /(^|\/)redis:/.test(service.image ?? ''));
}

/** The argument after `--flag` in a command given as a list (`--flag value`) or as one string. */
function commandArgument(service: ComposeService, flag: string): string | undefined {
  const command = service.command ?? '';
  const args = Array.isArray(command) ? command : command.split(/\s+/);
  const index = args.indexOf(flag);
  return index >= 0 ? args[index + 1] : undefined;
}

/** Bytes in a Redis memory setting (`512mb`, `2gb`, `1048576`); undefined when it is not one. */
export function redisBytes(value: string): number | undefined {
  const match = /^(\d+)(b|k|kb|m|mb|g|gb)?$/i.exec(value.trim());
  if (!match) return undefined;
  const units: Record<string, number> = {
    b: 1,
    k: 1000,
    kb: 1024,
    m: 1000 ** 2,
    mb: 1024 ** 2,
    g: 1000 ** 3,
    gb: 1024 ** 3,
  };
  return Number(match[1]) * units[(match[2] ?? 'b').toLowerCase()];
}

/**
 * Redis is fit for BullMQ (noeviction: an evicted key is a lost job) with a memory cap (so it refuses writes,
 * and the memory alert fires, before the host runs out), keeps its data (AOF, a volume), requires a password,
 * has a healthcheck that authenticates; the apps' REDIS_URL names it with that password and they wait until it
 * is healthy. `file` is interpolated (with the required secrets set).
 */
export function checkRedis(file: ComposeFile, apps: readonly DeployableApp[], schemas: AppSchemas): string[] {
  const problems: string[] = [];
  const redis = redisService(file);
  if (!redis) return ['no redis service'];
  const [name, service] = redis;
  const command = commandText(service);
  if (!/--appendonly\s+["']?yes\b/.test(command))
    problems.push(`${name}: AOF is off (want --appendonly yes)`);
  if (!/--maxmemory-policy\s+noeviction\b/.test(command)) {
    problems.push(`${name}: maxmemory-policy is not noeviction, which BullMQ requires`);
  }
  const maxmemory = commandArgument(service, '--maxmemory');
  const bytes = maxmemory === undefined ? undefined : redisBytes(maxmemory);
  if (maxmemory === undefined) {
    problems.push(`${name}: no --maxmemory (Redis would grow until the host runs out of memory)`);
  } else if (bytes === undefined) {
    problems.push(`${name}: --maxmemory ${maxmemory} is not a size (e.g. 512mb)`);
  } else if (bytes === 0) {
    problems.push(`${name}: --maxmemory 0 (no cap)`);
  }
  const password = commandArgument(service, '--requirepass');
  if (!password)
    problems.push(`${name}: no --requirepass (anyone who reaches it may read and write the queue)`);
  const health = healthcheckText(service) ?? '';
  if (!/redis-cli\s+(.*\s)?ping/.test(health)) {
    problems.push(`${name}: no "redis-cli ping" healthcheck`);
  } else if (password && !/REDISCLI_AUTH=|redis-cli\s+(.*\s)?(-a|--pass)\s/.test(health)) {
    problems.push(`${name}: the healthcheck does not authenticate (REDISCLI_AUTH), so it fails with NOAUTH`);
  }
  if (!mountsOf(service).some((mount) => mount.target === '/data'))
    problems.push(`${name}: no volume at /data`);
  for (const app of apps) {
    const appSvc = appService(file, app);
    if (!appSvc) continue;
    const url = effectiveValue(appSvc, schemaOf(schemas, app), 'REDIS_URL');
    if (url === undefined) continue;
    const parsed = new URL(url);
    const shown = parsed.password ? url.replace(parsed.password, '<password>') : url;
    if (parsed.hostname !== name)
      problems.push(`${app.service}: REDIS_URL ${shown} does not name the "${name}" service`);
    else if (password && decodeURIComponent(parsed.password) !== password)
      problems.push(`${app.service}: REDIS_URL ${shown} does not carry ${name}'s password`);
    if (dependsOn(appSvc)[name] !== 'service_healthy') {
      problems.push(`${app.service}: does not wait for ${name} (depends_on condition: service_healthy)`);
    }
  }
  return problems;
}

/**
 * The Redis password and memory cap come from .env: the password is required (`${NAME:?message}`, no default
 * anyone could read here), the cap is configurable. `raw` is the file before interpolation.
 */
export function checkRedisSettings(raw: ComposeFile): string[] {
  const redis = redisService(raw);
  if (!redis) return ['no redis service'];
  const [name, service] = redis;
  const problems: string[] = [];
  const password = commandArgument(service, '--requirepass') ?? '';
  const passwordRefs = references(password);
  if (
    passwordRefs.length !== 1 ||
    !['?', ':?'].includes(passwordRefs[0].operator) ||
    password !== `\${${passwordRefs[0].name}${passwordRefs[0].operator}${passwordRefs[0].operand}}`
  ) {
    problems.push(`${name}: --requirepass ${password} is not a required variable (\${NAME:?message})`);
  }
  const maxmemory = commandArgument(service, '--maxmemory') ?? '';
  if (references(maxmemory).length === 0) {
    problems.push(
      `${name}: --maxmemory ${maxmemory} is fixed; take it from .env (\${REDIS_MAXMEMORY:-512mb})`,
    );
  } else if (!redisBytes(interpolate(maxmemory, {}).value)) {
    problems.push(
      `${name}: --maxmemory ${maxmemory} has no cap when .env leaves it out; give it a default such as 512mb`,
    );
  }
  return problems;
}

/**
 * The apps' HTTP APIs never run open in the stack: their key variables are required (`${NAME:?message}`, compose
 * refuses to start without them) and AUTH, where compose sets it, is on. `raw` is the file before interpolation.
 */
export function checkAccessKeys(raw: ComposeFile, apps: readonly DeployableApp[]): string[] {
  const problems: string[] = [];
  for (const app of apps) {
    const service = appService(raw, app);
    if (!service) continue;
    const env = environmentOf(service);
    for (const key of app.requiredKeys) {
      const value = env[key];
      const [ref] = references(value ?? '');
      const required =
        ref !== undefined &&
        ref.name === key &&
        (ref.operator === ':?' || ref.operator === '?') &&
        value === `\${${ref.name}${ref.operator}${ref.operand}}`;
      if (value === undefined) problems.push(`${app.service}: environment lacks ${key}, which it requires`);
      else if (!required)
        problems.push(`${app.service}: ${key} is ${value}, not required (\${${key}:?message})`);
    }
    if (env.AUTH !== undefined && interpolate(env.AUTH, {}).value !== 'on') {
      problems.push(`${app.service}: AUTH is ${env.AUTH}; the stack serves its API with keys only (on)`);
    }
  }
  return problems;
}

/**
 * The Redis exporter (oliver006/redis_exporter) reads the stack's Redis with its password, so the Redis alerts
 * have data. `file` is interpolated.
 */
export function checkRedisExporter(file: ComposeFile): string[] {
  const exporter = services(file).find(([, service]) =>
    /(^|\/)oliver006\/redis_exporter:/.test(service.image ?? ''),
  );
  if (!exporter)
    return ['no redis exporter service (oliver006/redis_exporter), so the Redis alerts have no data'];
  const redis = redisService(file);
  if (!redis) return ['no redis service'];
  const [name, service] = exporter;
  const problems: string[] = [];
  const env = environmentOf(service);
  const addr = env.REDIS_ADDR ?? 'redis://localhost:6379';
  if (new URL(addr).hostname !== redis[0]) {
    problems.push(`${name}: REDIS_ADDR ${addr} does not name the "${redis[0]}" service`);
  }
  const password = commandArgument(redis[1], '--requirepass');
  const given = env.REDIS_PASSWORD ?? decodeURIComponent(new URL(addr).password);
  if (password && given !== password)
    problems.push(`${name}: does not pass ${redis[0]}'s password (REDIS_PASSWORD)`);
  if (dependsOn(service)[redis[0]] !== 'service_healthy') {
    problems.push(`${name}: does not wait for ${redis[0]} (depends_on condition: service_healthy)`);
  }
  if ((service.ports ?? []).length > 0)
    problems.push(`${name}: publishes a host port (Prometheus needs none)`);
  return problems;
}

/** depends_on names existing services, and `service_healthy` only services that have a healthcheck. */
export function checkDependsOn(file: ComposeFile): string[] {
  const problems: string[] = [];
  const all = file.services ?? {};
  for (const [name, service] of services(file)) {
    for (const [target, condition] of Object.entries(dependsOn(service))) {
      if (!all[target]) {
        problems.push(`${name}: depends on unknown service ${target}`);
      } else if (condition === 'service_healthy' && !healthcheckText(all[target])) {
        problems.push(`${name}: waits for ${target} to be healthy, but ${target} has no healthcheck`);
      }
    }
  }
  return problems;
}

/** Images that are pulled, not built, are pinned to exact versions. */
export function checkImagesPinned(file: ComposeFile): string[] {
  return services(file)
    .filter(([, service]) => service.build === undefined)
    .flatMap(([name, service]) => {
      if (!service.image) return [`${name}: no image and no build`];
      const problem = imagePinProblem(service.image);
      return problem ? [`${name}: ${problem}`] : [];
    });
}

/**
 * The worker reads its model from a read-only mount (none is baked into the image), its replica count
 * comes from WORKER_REPLICAS, and docker waits longer than the worker's own shutdown bound before SIGKILL.
 * `raw` is the file before interpolation (to see the variable), `file` after it.
 */
export function checkWorker(raw: ComposeFile, file: ComposeFile, schema: EnvSchema): string[] {
  const problems: string[] = [];
  const service = file.services?.[WORKER_SERVICE];
  if (!service) return [`no ${WORKER_SERVICE} service`];
  const modelDir = effectiveValue(service, schema, 'MODEL_DIR') ?? '';
  const mount = mountsOf(service).find(
    (m) => m.target && posix.normalize(modelDir).startsWith(`${m.target}/`),
  );
  if (!posix.isAbsolute(modelDir) || !mount) {
    problems.push(`${WORKER_SERVICE}: MODEL_DIR ${modelDir} is not inside a mounted volume`);
  } else if (!mount.readOnly) {
    problems.push(`${WORKER_SERVICE}: the model mount ${mount.target} is writable (mount it read-only)`);
  }
  const replicas = raw.services?.[WORKER_SERVICE]?.deploy?.replicas;
  if (!references(String(replicas ?? '')).some((ref) => ref.name === 'WORKER_REPLICAS')) {
    problems.push(`${WORKER_SERVICE}: deploy.replicas is not set from \${WORKER_REPLICAS}`);
  }
  const shutdownMs = Number(effectiveValue(service, schema, 'SHUTDOWN_TIMEOUT_MS'));
  const grace = durationSeconds(service.stop_grace_period ?? '10s');
  if (grace === undefined) {
    problems.push(`${WORKER_SERVICE}: stop_grace_period ${service.stop_grace_period} is not a duration`);
  } else if (grace * 1000 <= shutdownMs) {
    problems.push(
      `${WORKER_SERVICE}: stop_grace_period ${service.stop_grace_period ?? '10s (default)'} is not longer than ` +
        `SHUTDOWN_TIMEOUT_MS ${shutdownMs}: docker would kill the worker mid-drain`,
    );
  }
  return problems;
}

/**
 * Grafana's admin password has no default (compose refuses to start without one) and is never admin;
 * provisioning is mounted where Grafana reads it.
 */
export function checkGrafana(raw: ComposeFile, envExample: Readonly<Record<string, string>>): string[] {
  const problems: string[] = [];
  const found = services(raw).find(([, service]) => /(^|\/)grafana:/.test(service.image ?? ''));
  if (!found) return ['no grafana service'];
  const [name, service] = found;
  const env = environmentOf(service);
  const password = env.GF_SECURITY_ADMIN_PASSWORD;
  if (password === undefined) {
    problems.push(`${name}: GF_SECURITY_ADMIN_PASSWORD is not set (Grafana would use admin/admin)`);
  } else {
    const withoutEnv = interpolate(password, {});
    if (withoutEnv.problems.length === 0) {
      problems.push(
        `${name}: GF_SECURITY_ADMIN_PASSWORD has a default ("${withoutEnv.value}"); require it with \${NAME:?message}`,
      );
    }
    const fromExample = interpolate(password, envExample).value;
    const user = interpolate(env.GF_SECURITY_ADMIN_USER ?? 'admin', envExample).value;
    if (fromExample === 'admin' || withoutEnv.value === 'admin') {
      problems.push(`${name}: the admin login would be ${user}/admin`);
    }
  }
  if (
    !mountsOf(service).some(
      (m) =>
        m.target === '/etc/grafana/provisioning' && /monitoring\/grafana\/provisioning\/?$/.test(m.source),
    )
  ) {
    problems.push(`${name}: monitoring/grafana/provisioning is not mounted at /etc/grafana/provisioning`);
  }
  return problems;
}
