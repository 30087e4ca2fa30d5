/** The real deployment files and app schemas, for the specs (which also run the checks on mutated copies). */
import { DEPLOYABLE_APPS } from './apps';
import { AppSchemas, ComposeFile, interpolateCompose, parseCompose } from './compose';
import { ensureBuilt, EnvSchema, readEnvSchema } from './env-schema';
import { activeValues, parseEnvFile } from './env-file';
import { FILES, readWorkspaceFile } from './workspace';

/** Stand-ins for the secrets every real .env must set (.env.example leaves them empty). */
export const REQUIRED_SECRETS = {
  GRAFANA_ADMIN_PASSWORD: 'a-real-secret',
  REDIS_PASSWORD: 'aRealRedisPassword0123456789',
  API_KEYS: 'a-client-key-0123456789',
  ADMIN_API_KEYS: 'an-admin-key-0123456789',
};

let schemas: AppSchemas | undefined;

/** The apps' env schemas from the built bundles (built first when missing). */
export function appSchemas(): AppSchemas {
  if (!schemas) {
    ensureBuilt(DEPLOYABLE_APPS);
    schemas = new Map(DEPLOYABLE_APPS.map((app) => [app.project, readEnvSchema(app)]));
  }
  return schemas;
}

/** One app's env schema. */
export function schemaOf(project: string): EnvSchema {
  const schema = appSchemas().get(project);
  if (!schema) throw new Error(`no env schema for ${project}`);
  return schema;
}

export const read = (file: keyof typeof FILES): string => readWorkspaceFile(FILES[file]);

/** The text with `from` replaced; throws when `from` is not there, so a negative case cannot pass by accident. */
export function mutate(text: string, from: string | RegExp, to: string): string {
  const changed = text.replace(from, to);
  if (changed === text) throw new Error(`mutation found nothing to replace: ${from}`);
  return changed;
}

export interface LoadedCompose {
  raw: ComposeFile;
  /** As compose sees it with .env copied from .env.example and the required secrets set. */
  file: ComposeFile;
  problems: string[];
}

export function loadCompose(composeText = read('compose'), envText = read('envExample')): LoadedCompose {
  const raw = parseCompose(composeText);
  const env = { ...activeValues(parseEnvFile(envText)), ...REQUIRED_SECRETS };
  const { file, problems } = interpolateCompose(raw, env);
  return { raw, file, problems };
}
