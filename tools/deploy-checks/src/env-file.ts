import { DeployableApp } from './apps';
import { AppSchemas, ComposeFile, environmentOf } from './compose';
import { defaultText, EnvSchema } from './env-schema';
import { interpolate, references, VariableReference } from './interpolate';

export interface EnvFileEntry {
  name: string;
  value: string;
  /** false for a `# NAME=value` line: listed with its default, not set. */
  active: boolean;
  line: number;
}

const ACTIVE = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;
const COMMENTED = /^#\s?([A-Z_][A-Z0-9_]*)=("[^"]*"|'[^']*'|\S*)$/;

function unquote(raw: string): string {
  const value = raw.trim();
  if (/^(['"]).*\1$/.test(value)) return value.slice(1, -1);
  return value.replace(/\s+#.*$/, '');
}

/** `NAME=value` lines (what compose reads) and `# NAME=value` lines (documented defaults). */
export function parseEnvFile(text: string): EnvFileEntry[] {
  return text.split('\n').flatMap((raw, index): EnvFileEntry[] => {
    const line = raw.trim();
    const active = ACTIVE.exec(line);
    if (active) return [{ name: active[1], value: unquote(active[2]), active: true, line: index + 1 }];
    const commented = COMMENTED.exec(line);
    if (commented)
      return [{ name: commented[1], value: unquote(commented[2]), active: false, line: index + 1 }];
    return [];
  });
}

/** What compose gets from a .env copied from this file. */
export function activeValues(entries: readonly EnvFileEntry[]): Record<string, string> {
  return Object.fromEntries(
    entries.filter((entry) => entry.active).map((entry) => [entry.name, entry.value]),
  );
}

/**
 * What compose passes for `raw` when .env leaves `name` out. For `${NAME:-default}` that is the default as
 * written, so a default built from another variable reads as .env.example shows it
 * (`redis://:${REDIS_PASSWORD}@redis:6379`); anything else is interpolated without .env.
 */
export function composeDefault(raw: string, name: string): string {
  const [outer] = references(raw);
  const whole = outer && raw === `\${${outer.name}${outer.operator}${outer.operand}}`;
  if (whole && outer.name === name && (outer.operator === ':-' || outer.operator === '-'))
    return outer.operand;
  return interpolate(raw, {}).value;
}

/** The value an app sees for a variable when .env leaves it out: compose's value, else the app's default. */
function unsetValue(compose: ComposeFile, app: DeployableApp, schema: EnvSchema, name: string): string {
  const raw = environmentOf(compose.services?.[app.service] ?? {})[name];
  const value = raw === undefined ? '' : composeDefault(raw, name).trim();
  return value || (defaultText(schema, name) ?? '');
}

/** A value compose sets for one service without reading .env (a port): each service may fix its own. */
function fixedByCompose(compose: ComposeFile, app: DeployableApp, name: string): boolean {
  const raw = environmentOf(compose.services?.[app.service] ?? {})[name];
  return raw !== undefined && !raw.includes('$');
}

/**
 * .env.example lists every variable docker-compose.yml interpolates and every variable an app reads, once,
 * with the value it takes when left unset: the compose default for stack settings, and for app variables
 * what reaches the app (the compose value, else the app's own default, from --env-schema). It sets nothing
 * compose does not read.
 */
export function checkEnvExample(
  entries: readonly EnvFileEntry[],
  compose: ComposeFile,
  composeRefs: readonly VariableReference[],
  apps: readonly DeployableApp[],
  schemas: AppSchemas,
): string[] {
  const problems: string[] = [];
  const listed = new Map<string, EnvFileEntry>();
  for (const entry of entries) {
    if (listed.has(entry.name)) problems.push(`.env.example lists ${entry.name} twice (line ${entry.line})`);
    else listed.set(entry.name, entry);
  }
  const referenced = new Set(composeRefs.map((ref) => ref.name));

  // What each variable becomes when .env leaves it out, and who says so.
  const expected = new Map<string, { value: string; source: string }>();
  const expect = (name: string, value: string, source: string) => {
    const previous = expected.get(name);
    if (!previous) expected.set(name, { value, source });
    else if (previous.value !== value) {
      problems.push(
        `${name} defaults to "${previous.value}" (${previous.source}) but to "${value}" (${source})`,
      );
    }
  };
  const appVariables = new Set<string>();
  for (const app of apps) {
    const schema = schemas.get(app.project) ?? [];
    for (const { name } of schema) {
      appVariables.add(name);
      if (!fixedByCompose(compose, app, name))
        expect(name, unsetValue(compose, app, schema, name), `what ${app.project} sees`);
      if (!listed.has(name)) problems.push(`.env.example does not list ${name} (${app.project} reads it)`);
    }
  }
  for (const ref of composeRefs) {
    if (!appVariables.has(ref.name) && (ref.operator === ':-' || ref.operator === '-')) {
      expect(ref.name, interpolate(ref.operand, {}).value, 'docker-compose.yml');
    }
  }
  for (const name of referenced) {
    if (!listed.has(name) && !appVariables.has(name))
      problems.push(`.env.example does not list ${name} (docker-compose.yml uses it)`);
  }

  for (const entry of listed.values()) {
    if (!referenced.has(entry.name) && !appVariables.has(entry.name)) {
      problems.push(`.env.example lists ${entry.name}, which neither docker-compose.yml nor an app reads`);
    } else if (entry.active && !referenced.has(entry.name)) {
      problems.push(`.env.example sets ${entry.name}, but docker-compose.yml does not take it from .env`);
    }
    const want = expected.get(entry.name);
    if (want && entry.value !== want.value) {
      problems.push(
        `.env.example shows ${entry.name}=${entry.value}, but the default is "${want.value}" (${want.source})`,
      );
    }
  }
  return problems;
}
