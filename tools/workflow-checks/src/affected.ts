import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Nx's project types: `e2e` is what Nx makes of a project named e2e or *-e2e, whatever its projectType. */
export type NxProjectType = 'app' | 'lib' | 'e2e';

export interface AffectedQuery {
  base: string;
  head: string;
  /** Only projects of this type (`--type`); all projects when absent. */
  type?: NxProjectType;
}

/**
 * `nx show projects --affected --base --head [--type] --json`, run in `repoDir` with the nx of its
 * node_modules (its own, or a link to the workspace's), sorted. Nx maps the files changed between the two
 * commits to their projects and adds every project that depends on them. Calls `node_modules/.bin/nx`
 * rather than `npx nx`, which is the same program with half a second less start-up.
 */
export async function affectedProjects(
  repoDir: string,
  query: AffectedQuery,
  env: NodeJS.ProcessEnv,
): Promise<string[]> {
  const args = ['show', 'projects', '--affected', `--base=${query.base}`, `--head=${query.head}`, '--json'];
  if (query.type) args.push(`--type=${query.type}`);
  const command = `nx ${args.join(' ')}`;
  let stdout: string;
  try {
    ({ stdout } = await run(join(repoDir, 'node_modules/.bin/nx'), args, {
      cwd: repoDir,
      env,
      encoding: 'utf8',
    }));
  } catch (error) {
    throw new Error(
      `${command} failed in ${repoDir}:\n${(error as { stderr?: string }).stderr ?? String(error)}`,
    );
  }
  const projects: unknown = JSON.parse(stdout);
  if (!Array.isArray(projects) || !projects.every((project) => typeof project === 'string')) {
    throw new Error(`${command} printed ${stdout}`);
  }
  return [...projects].sort();
}

/** The affected projects of type app (apps and tools; not the e2e project), as the workflows ask for them. */
export const affectedApps = (repoDir: string, base: string, head: string, env: NodeJS.ProcessEnv) =>
  affectedProjects(repoDir, { base, head, type: 'app' }, env);
