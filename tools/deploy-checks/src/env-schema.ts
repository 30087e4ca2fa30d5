import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { EnvVariable } from '@reputation-monitor/config';
import { DeployableApp } from './apps';
import { WORKSPACE_ROOT } from './workspace';

export type EnvSchema = readonly EnvVariable[];

export function mainScript(app: DeployableApp): string {
  return join(WORKSPACE_ROOT, 'dist/apps', app.project, 'main.js');
}

/** Builds the apps whose bundle is missing (the way `npm start` does), so their schema can be read. */
export function ensureBuilt(apps: readonly DeployableApp[]): void {
  const missing = apps.filter((app) => !existsSync(mainScript(app))).map((app) => app.project);
  if (missing.length === 0) return;
  execFileSync(join(WORKSPACE_ROOT, 'node_modules/.bin/nx'), ['run-many', '-t', 'build', '-p', ...missing], {
    cwd: WORKSPACE_ROOT,
    stdio: 'inherit',
    env: { ...process.env, NX_DAEMON: 'false' },
  });
}

/** The variables the built app reads, from the app itself: `main.js --env-schema`. */
export function readEnvSchema(app: DeployableApp): EnvSchema {
  const output = execFileSync(process.execPath, [mainScript(app), '--env-schema'], {
    cwd: WORKSPACE_ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return JSON.parse(output) as EnvSchema;
}

/** The value an unset variable takes, as text (undefined: the app has no default). */
export function defaultText(schema: EnvSchema, name: string): string | undefined {
  const variable = schema.find((known) => known.name === name);
  return variable?.default === undefined ? undefined : String(variable.default);
}
