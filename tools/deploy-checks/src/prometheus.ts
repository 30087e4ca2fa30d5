import { DeployableApp, WORKER_SERVICE } from './apps';
import { AppSchemas, ComposeFile, effectiveValue, environmentOf, mountsOf } from './compose';
import { defaultText } from './env-schema';
import { isRecord, parseYaml } from './yaml-file';

export interface ScrapeTarget {
  job: string;
  host: string;
  port: string;
  metricsPath: string;
  /** static_configs or dns_sd_configs (every replica behind a name). */
  discovery: 'static' | 'dns';
}

interface ScrapeConfig {
  job_name?: string;
  metrics_path?: string;
  static_configs?: { targets?: string[] }[];
  dns_sd_configs?: { names?: string[]; type?: string; port?: number }[];
}

export function parsePrometheus(text: string, what: string): ScrapeConfig[] {
  const config = parseYaml<unknown>(text, what);
  if (!isRecord(config) || !Array.isArray(config.scrape_configs))
    throw new Error(`${what} has no scrape_configs`);
  return config.scrape_configs as ScrapeConfig[];
}

export function scrapeTargets(configs: readonly ScrapeConfig[]): ScrapeTarget[] {
  return configs.flatMap((config) => {
    const job = config.job_name ?? '';
    const metricsPath = config.metrics_path ?? '/metrics';
    const fixed = (config.static_configs ?? []).flatMap((group) =>
      (group.targets ?? []).map((target) => {
        const colon = target.lastIndexOf(':');
        return {
          job,
          host: target.slice(0, colon),
          port: target.slice(colon + 1),
          metricsPath,
          discovery: 'static' as const,
        };
      }),
    );
    const dns = (config.dns_sd_configs ?? []).flatMap((sd) =>
      (sd.names ?? []).map((host) => ({
        job,
        host,
        port: String(sd.port ?? ''),
        metricsPath,
        discovery: 'dns' as const,
      })),
    );
    return [...fixed, ...dns];
  });
}

function checkJobs(configs: readonly ScrapeConfig[], apps: readonly DeployableApp[], what: string): string[] {
  const problems: string[] = [];
  const names = configs.map((config) => config.job_name ?? '');
  for (const name of new Set(names)) {
    if (names.filter((n) => n === name).length > 1) problems.push(`${what}: job ${name} is defined twice`);
  }
  for (const app of apps) {
    if (!names.includes(app.service)) problems.push(`${what}: no "${app.service}" job`);
  }
  return problems;
}

/**
 * Prometheus in compose scrapes each app at its compose service name and the port the app listens on,
 * every worker replica (DNS discovery, not one static name that resolves to any one replica), and every
 * target host is a compose service. The prometheus service mounts this file where it reads its config.
 */
export function checkPrometheusCompose(
  configs: readonly ScrapeConfig[],
  compose: ComposeFile,
  apps: readonly DeployableApp[],
  schemas: AppSchemas,
): string[] {
  const what = 'prometheus.yml';
  const problems = checkJobs(configs, apps, what);
  const services = compose.services ?? {};
  const targets = scrapeTargets(configs);
  for (const target of targets) {
    const self = target.host === 'localhost' && target.port === '9090';
    if (!self && !services[target.host]) {
      problems.push(`${what}: job ${target.job} scrapes ${target.host}, which is not a compose service`);
    }
  }
  for (const app of apps) {
    const service = services[app.service];
    const schema = schemas.get(app.project) ?? [];
    const port = service
      ? effectiveValue(service, schema, app.portVariable)
      : defaultText(schema, app.portVariable);
    const jobTargets = targets.filter((target) => target.job === app.service);
    for (const target of jobTargets) {
      if (target.host !== app.service)
        problems.push(`${what}: job ${target.job} scrapes ${target.host}, not ${app.service}`);
      if (target.port !== port) {
        problems.push(
          `${what}: job ${target.job} scrapes port ${target.port}, but ${app.portVariable} is ${port}`,
        );
      }
      if (target.metricsPath !== '/metrics')
        problems.push(`${what}: job ${target.job} scrapes ${target.metricsPath}`);
    }
    if (app.service === WORKER_SERVICE && jobTargets.some((target) => target.discovery !== 'dns')) {
      problems.push(
        `${what}: job ${app.service} has a static target, which reaches one replica at a time (use dns_sd_configs)`,
      );
    }
  }
  problems.push(...checkRedisJob(configs, compose, what));
  const prometheus = Object.entries(services).find(([, s]) => /(^|\/)prometheus:/.test(s.image ?? ''));
  if (!prometheus) {
    problems.push('no prometheus service in docker-compose.yml');
  } else {
    const [name, service] = prometheus;
    const command = Array.isArray(service.command) ? service.command.join(' ') : (service.command ?? '');
    const configPath = /--config\.file=(\S+)/.exec(command)?.[1] ?? '/etc/prometheus/prometheus.yml';
    if (
      !mountsOf(service).some(
        (m) => m.target === configPath && /monitoring\/prometheus\/prometheus\.yml$/.test(m.source),
      )
    ) {
      problems.push(`${name}: monitoring/prometheus/prometheus.yml is not mounted at ${configPath}`);
    }
  }
  return problems;
}

/** The job the Redis alerts select (monitoring/prometheus/rules/redis.yml: job="redis"). */
export const REDIS_JOB = 'redis';

/**
 * Prometheus scrapes the compose Redis exporter as job redis, at the port it listens on (9121 unless
 * REDIS_EXPORTER_WEB_LISTEN_ADDRESS says otherwise), so the Redis alerts have data.
 */
function checkRedisJob(configs: readonly ScrapeConfig[], compose: ComposeFile, what: string): string[] {
  const exporter = Object.entries(compose.services ?? {}).find(([, service]) =>
    /(^|\/)oliver006\/redis_exporter:/.test(service.image ?? ''),
  );
  if (!exporter) return [];
  const [name, service] = exporter;
  const listen = environmentOf(service).REDIS_EXPORTER_WEB_LISTEN_ADDRESS ?? ':9121';
  const port = listen.slice(listen.lastIndexOf(':') + 1);
  const targets = scrapeTargets(configs).filter((target) => target.job === REDIS_JOB);
  if (targets.length === 0) return [`${what}: no "${REDIS_JOB}" job scraping ${name}:${port}`];
  return targets.flatMap((target) =>
    target.host === name && target.port === port
      ? []
      : [`${what}: job ${REDIS_JOB} scrapes ${target.host}:${target.port}, not ${name}:${port}`],
  );
}

/** The `npm start` config scrapes the apps on the loopback at their default ports. */
export function checkPrometheusLocal(
  configs: readonly ScrapeConfig[],
  apps: readonly DeployableApp[],
  schemas: AppSchemas,
): string[] {
  const what = 'prometheus.local.yml';
  const problems = checkJobs(configs, apps, what);
  const targets = scrapeTargets(configs);
  for (const target of targets) {
    if (!['127.0.0.1', 'localhost', '[::1]'].includes(target.host)) {
      problems.push(
        `${what}: job ${target.job} scrapes ${target.host}; npm start runs everything on 127.0.0.1`,
      );
    }
  }
  for (const app of apps) {
    const port = defaultText(schemas.get(app.project) ?? [], app.portVariable);
    for (const target of targets.filter((t) => t.job === app.service)) {
      if (target.port !== port) {
        problems.push(
          `${what}: job ${target.job} scrapes port ${target.port}, but ${app.portVariable} defaults to ${port}`,
        );
      }
    }
  }
  return problems;
}
