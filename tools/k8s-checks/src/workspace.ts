import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const WORKSPACE_ROOT = resolve(__dirname, '../../..');

/** Where the manifests live, relative to the workspace root. */
export const K8S_ROOT = 'deploy/kubernetes';
/** The overlays a cluster is deployed from; each is rendered and validated. */
export const OVERLAYS = ['production', 'small'] as const;
export type Overlay = (typeof OVERLAYS)[number];

/** The single sources of the monitoring objects: what promtool tests and what compose's Grafana loads. */
export const RULES_DIR = 'monitoring/prometheus/rules';
export const DASHBOARDS_DIR = 'monitoring/grafana/dashboards';
/** Written by `cli.ts generate` from the two folders above. */
export const GENERATED_DIR = `${K8S_ROOT}/components/monitoring/generated`;
export const KUBERNETES_DOC = 'docs/kubernetes.md';

export const workspacePath = (path: string) => join(WORKSPACE_ROOT, path);
export const readWorkspaceFile = (path: string) => readFileSync(workspacePath(path), 'utf8');

/** The files of a workspace folder with this extension, sorted. */
export function listFiles(dir: string, extension: string): string[] {
  return readdirSync(workspacePath(dir))
    .filter((name) => name.endsWith(extension))
    .sort();
}
