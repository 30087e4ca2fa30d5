import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { jobSchemaFiles, schemaFileText } from '../src/job-schemas';

/**
 * Writes the JSON Schema files of the job contract from `src/job-schemas.ts`: into `libs/contracts/schema` (shipped
 * in the package) and `docs/schema` (linked from the docs), formatted as the repository's prettier check wants them.
 * `nx run contracts:write-schemas`; the contracts specs fail while the files differ from what this writes.
 */
async function main(): Promise<void> {
  const workspace = resolve(__dirname, '../../..');
  const targets = [join(workspace, 'libs/contracts/schema'), join(workspace, 'docs/schema')];
  const files = jobSchemaFiles();
  for (const dir of targets) {
    mkdirSync(dir, { recursive: true });
    for (const stale of readdirSync(dir).filter((name) => name.endsWith('.schema.json') && !(name in files)))
      rmSync(join(dir, stale));
    for (const [name, schema] of Object.entries(files)) {
      const path = join(dir, name);
      const options = { ...(await resolveConfig(path)), filepath: path };
      writeFileSync(path, await format(schemaFileText(schema), options));
    }
    console.log(`wrote ${Object.keys(files).length} schemas to ${dir}`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
