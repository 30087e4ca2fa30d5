import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const WORKSPACE_ROOT = resolve(__dirname, '../../..');

/** The deployment files the checks read, relative to the workspace root. */
export const FILES = {
  compose: 'docker-compose.yml',
  envExample: '.env.example',
  dockerignore: '.dockerignore',
  prometheus: 'monitoring/prometheus/prometheus.yml',
  prometheusLocal: 'monitoring/prometheus/prometheus.local.yml',
  grafanaDatasources: 'monitoring/grafana/provisioning/datasources/prometheus.yml',
  grafanaDashboards: 'monitoring/grafana/provisioning/dashboards/dashboards.yml',
} as const;

export function readWorkspaceFile(path: string): string {
  return readFileSync(join(WORKSPACE_ROOT, path), 'utf8');
}
