import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ComposeFile, mountsOf, parsePort } from './compose';
import { isRecord, parseYaml } from './yaml-file';

interface Datasource {
  name?: string;
  uid?: string;
  type?: string;
  url?: string;
}

interface DashboardProvider {
  type?: string;
  options?: { path?: string };
}

function listOf<T>(text: string, what: string, key: string): T[] {
  const config = parseYaml<unknown>(text, what);
  if (!isRecord(config) || config.apiVersion !== 1 || !Array.isArray(config[key])) {
    throw new Error(`${what} is not a Grafana provisioning file (apiVersion: 1, ${key}: [...])`);
  }
  return config[key] as T[];
}

/**
 * The Prometheus data source (uid `prometheus`, which dashboards refer to) points at the compose
 * prometheus service and its container port; the dashboards provider reads the folder compose mounts.
 */
export function checkGrafanaProvisioning(
  datasourcesText: string,
  dashboardsText: string,
  compose: ComposeFile,
  root: string,
): string[] {
  const problems: string[] = [];
  const services = compose.services ?? {};
  const datasources = listOf<Datasource>(datasourcesText, 'datasources/prometheus.yml', 'datasources');
  const prometheus = datasources.find((source) => source.type === 'prometheus');
  if (!prometheus) {
    problems.push('grafana: no prometheus data source');
  } else {
    if (prometheus.uid !== 'prometheus')
      problems.push(`grafana: the prometheus data source uid is ${prometheus.uid}, want prometheus`);
    const url = new URL(prometheus.url ?? 'http://invalid');
    const service = services[url.hostname];
    const ports = (service?.ports ?? []).map((port) => parsePort(port).target);
    if (!service || !/(^|\/)prometheus:/.test(service.image ?? '')) {
      problems.push(`grafana: the data source url ${prometheus.url} does not name the prometheus service`);
    } else if (url.port !== '9090' && !ports.includes(url.port)) {
      problems.push(`grafana: the data source url ${prometheus.url} is not Prometheus's port 9090`);
    }
  }

  const providers = listOf<DashboardProvider>(dashboardsText, 'dashboards/dashboards.yml', 'providers');
  const grafana = Object.values(services).find((service) => /(^|\/)grafana:/.test(service.image ?? ''));
  const mounts = grafana ? mountsOf(grafana) : [];
  for (const provider of providers) {
    const path = provider.options?.path ?? '';
    if (provider.type !== 'file') continue;
    const mount = mounts.find((m) => m.target === path);
    if (!mount) {
      problems.push(`grafana: dashboards are read from ${path}, which compose does not mount`);
    } else if (mount.type === 'bind' && !existsSync(join(root, mount.source))) {
      problems.push(`grafana: ${mount.source} (mounted at ${path}) does not exist`);
    }
  }
  if (!providers.some((provider) => provider.type === 'file'))
    problems.push('grafana: no file dashboards provider');
  return problems;
}
