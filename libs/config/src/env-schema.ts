import { EnvReader } from './env-reader';

/**
 * `main.js --env-schema` prints the variables the app reads (name, kind, default) as JSON and exits,
 * so deployment files can be checked against the code instead of against a copy of it.
 */
export function printEnvSchemaIfAsked(
  read: (reader: EnvReader) => unknown,
  argv: readonly string[] = process.argv,
): void {
  if (!argv.includes('--env-schema')) return;
  const reader = new EnvReader({});
  read(reader);
  process.stdout.write(JSON.stringify(reader.variables, null, 2) + '\n');
  process.exit(0);
}
