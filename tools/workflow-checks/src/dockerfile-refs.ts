import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DOCKER_APPS_ACTION, matrixFromCallers, matrixSource } from './common-checks';
import { type GithubFile, WORKSPACE_ROOT } from './github-files';
import { parseWorkflow } from './workflow-model';

/** `apps/<name>/Dockerfile`, where <name> is a word, an expression (`${{ matrix.app }}`) or a variable (`${app}`). */
const DOCKERFILE_REF = /apps\/(\$\{\{[^}]*\}\}|[^/\s'"`]+)\/Dockerfile/g;
const MATRIX_APP = /^\$\{\{\s*matrix\.app\s*\}\}$/;
const PLACEHOLDER = /^<[\w-]+>$/;
const APP_NAME = /^[a-z0-9][a-z0-9-]*$/;

export interface DockerfileRef {
  file: string;
  /** What stands between `apps/` and `/Dockerfile`. */
  app: string;
  /** The job it is in, for workflows (undefined in comments, actions and top-level keys). */
  job?: string;
}

/** Every `apps/<name>/Dockerfile` in the files, comments included; inside a job's YAML, with the job's id. */
export function dockerfileRefs(files: GithubFile[]): DockerfileRef[] {
  const refs: DockerfileRef[] = [];
  for (const file of files) {
    const inJobs = new Set<string>();
    if (file.kind === 'workflow') {
      for (const [job, body] of Object.entries(parseWorkflow(file.text).jobs)) {
        for (const match of JSON.stringify(body).matchAll(DOCKERFILE_REF)) {
          refs.push({ file: file.path, app: match[1], job });
          inJobs.add(match[1]);
        }
      }
    }
    for (const match of file.text.matchAll(DOCKERFILE_REF)) {
      if (!inJobs.has(match[1])) refs.push({ file: file.path, app: match[1] });
    }
  }
  return refs;
}

/** Whether apps/<name> is a deployable app: a project of its own, tagged type:app. */
export function isDeployableApp(name: string, root = WORKSPACE_ROOT): boolean {
  const projectJson = join(root, 'apps', name, 'project.json');
  if (!APP_NAME.test(name) || !existsSync(projectJson)) return false;
  const project = JSON.parse(readFileSync(projectJson, 'utf8')) as { tags?: string[]; name?: string };
  return (project.tags ?? []).includes('type:app');
}

/**
 * Each Dockerfile reference names an app that exists: a literal name is a deployable app (apps/<name>,
 * tagged type:app) with that Dockerfile; `${{ matrix.app }}` sits in a job whose matrix is the docker-apps
 * output (apps from `nx show projects --affected --type app` with a Dockerfile), directly or through the `apps`
 * input every caller of its reusable workflow fills from a docker-apps job; `${app}` only in the docker-apps
 * action itself; `<app>` only as a placeholder in prose.
 */
export function dockerfileRefProblems(files: GithubFile[], root = WORKSPACE_ROOT): string[] {
  const problems: string[] = [];
  const workflows = new Map(
    files.filter((file) => file.kind === 'workflow').map((file) => [file.path, file]),
  );
  for (const ref of dockerfileRefs(files)) {
    const where = `${ref.file}${ref.job ? ` job ${ref.job}` : ''}: apps/${ref.app}/Dockerfile`;
    if (APP_NAME.test(ref.app)) {
      if (!isDeployableApp(ref.app, root))
        problems.push(`${where} does not name a deployable app (type:app)`);
      else if (!existsSync(join(root, 'apps', ref.app, 'Dockerfile')))
        problems.push(`${where} does not exist`);
    } else if (MATRIX_APP.test(ref.app)) {
      const workflow = workflows.get(ref.file);
      const job = ref.job && workflow ? parseWorkflow(workflow.text).jobs[ref.job] : undefined;
      const fromDockerApps =
        workflow &&
        job &&
        (matrixSource(parseWorkflow(workflow.text), job) !== undefined ||
          matrixFromCallers(files, ref.file, job));
      if (!fromDockerApps) {
        problems.push(`${where}: matrix.app does not come from the docker-apps job's output`);
      }
    } else if (ref.app === '${app}') {
      if (ref.file !== `${DOCKER_APPS_ACTION.slice(2)}/action.yml`) {
        problems.push(`${where}: the variable app is unchecked here`);
      }
    } else if (!(PLACEHOLDER.test(ref.app) && !ref.job)) {
      problems.push(`${where}: cannot tell which app this is`);
    }
  }
  return problems;
}

/** Projects under apps/ are named after their folder, so `apps/<project name>/Dockerfile` is the app's own. */
export function appFolderProblems(root = WORKSPACE_ROOT): string[] {
  const appsDir = join(root, 'apps');
  return readdirSync(appsDir)
    .filter((dir) => existsSync(join(appsDir, dir, 'project.json')))
    .flatMap((dir) => {
      const { name } = JSON.parse(readFileSync(join(appsDir, dir, 'project.json'), 'utf8')) as {
        name?: string;
      };
      return name === dir ? [] : [`apps/${dir}/project.json: project name ${name} differs from its folder`];
    });
}
