import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EnvVariable } from '@reputation-monitor/config';
import { K8S_APPS } from './apps';
import { WORKSPACE_ROOT } from './workspace';

export type EnvSchema = readonly EnvVariable[];
export type AppSchemas = ReadonlyMap<string, EnvSchema>;

const mainScript = (project: string) => join(WORKSPACE_ROOT, 'dist/apps', project, 'main.js');

/** Builds the apps whose bundle is missing (as tools/deploy-checks does), so their schema can be read. */
function ensureBuilt(projects: string[]): void {
  const missing = projects.filter((project) => !existsSync(mainScript(project)));
  if (missing.length === 0) return;
  execFileSync(join(WORKSPACE_ROOT, 'node_modules/.bin/nx'), ['run-many', '-t', 'build', '-p', ...missing], {
    cwd: WORKSPACE_ROOT,
    stdio: 'inherit',
    env: { ...process.env, NX_DAEMON: 'false' },
  });
}

/**
 * The variables the built app reads, from the app itself: `main.js --env-schema`. Booting a bundle takes about a
 * second, so the answer is kept in tmp/ under the bundle's hash for the other test files (a rebuild misses it).
 */
function readEnvSchema(project: string): EnvSchema {
  const script = mainScript(project);
  const hash = createHash('sha256').update(readFileSync(script)).digest('hex').slice(0, 16);
  const cacheDir = join(WORKSPACE_ROOT, 'tmp/k8s-checks');
  const cached = join(cacheDir, `env-schema-${project}-${hash}.json`);
  if (existsSync(cached)) return JSON.parse(readFileSync(cached, 'utf8')) as EnvSchema;
  const output = execFileSync(process.execPath, [script, '--env-schema'], {
    cwd: WORKSPACE_ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  const schema = JSON.parse(output) as EnvSchema;
  mkdirSync(cacheDir, { recursive: true });
  // Written aside and renamed, so a test file running in parallel never reads half a file.
  const partial = `${cached}.${process.pid}`;
  writeFileSync(partial, JSON.stringify(schema));
  renameSync(partial, cached);
  return schema;
}

let schemas: AppSchemas | undefined;

/** Every app's env schema, read once per process. */
export function appSchemas(): AppSchemas {
  if (!schemas) {
    const projects = K8S_APPS.map((app) => app.project);
    ensureBuilt(projects);
    schemas = new Map(projects.map((project) => [project, readEnvSchema(project)]));
  }
  return schemas;
}

/** The value an unset variable takes, as text (undefined: the app has no default). */
export function defaultText(schema: EnvSchema, name: string): string | undefined {
  const variable = schema.find((known) => known.name === name);
  return variable?.default === undefined ? undefined : String(variable.default);
}
