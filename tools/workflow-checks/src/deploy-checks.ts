import {
  affectedJobProblems,
  dockerAppsJobs,
  matrixGuardProblems,
  matrixSource,
  problemList,
  runsOneAtATime,
} from './common-checks';
import {
  type Job,
  type Workflow,
  expressionBody,
  needsOf,
  parseWorkflow,
  stepsOf,
  triggers,
  usesAction,
} from './workflow-model';

const WHERE = '.github/workflows/deploy.yml';

/**
 * The image name before `/<app>`, resolved to what it is at run time: `ghcr.io/${{ github.repository }}`
 * written out, or a job output set by a step that writes `<key>=ghcr.io/${GITHUB_REPOSITORY,,}` (lower case,
 * which GHCR requires). Undefined when it is neither.
 */
export function imageBase(workflow: Workflow, prefix: string): string | undefined {
  if (prefix === 'ghcr.io/${{ github.repository }}') return 'ghcr.io/<repository>';
  const output = /^needs\.([\w-]+)\.outputs\.([\w-]+)$/.exec(expressionBody(prefix) ?? '');
  if (!output) return undefined;
  const source = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(
    expressionBody(workflow.jobs[output[1]]?.outputs?.[output[2]]) ?? '',
  );
  if (!source) return undefined;
  const step = stepsOf(workflow.jobs[output[1]]).find((candidate) => candidate.id === source[1]);
  const writes = `${source[2]}=ghcr.io/\${GITHUB_REPOSITORY,,}`;
  return step?.run?.includes(writes) ? 'ghcr.io/<repository, lower case>' : undefined;
}

function imagesJobProblems(workflow: Workflow, id: string, job: Job): string[] {
  const { problems, check } = problemList(`${WHERE} job ${id}`);
  problems.push(...matrixGuardProblems(workflow, id, WHERE));
  const permissions = job.permissions;
  check(
    typeof permissions === 'object' && permissions.packages === 'write',
    'may push packages (packages: write)',
  );
  const login = stepsOf(job).find((step) => usesAction(step, 'docker/login-action'));
  check(login?.with?.registry === 'ghcr.io', 'logs in to ghcr.io');
  const build = stepsOf(job).find((step) => usesAction(step, 'docker/build-push-action'));
  check(build?.with?.file === 'apps/${{ matrix.app }}/Dockerfile', 'builds apps/<app>/Dockerfile');
  check(build?.with?.push === true, 'pushes (push: true)');
  const tags = String(build?.with?.tags ?? '')
    .split(/[\n,]/)
    .map((tag) => tag.trim())
    .filter(Boolean);
  const tagged = (suffix: string) =>
    tags.some((tag) => {
      const match = /^(.*)\/\$\{\{ matrix\.app \}\}:(.*)$/.exec(tag);
      return match !== null && match[2] === suffix && imageBase(workflow, match[1]) !== undefined;
    });
  check(tagged('${{ github.sha }}'), 'tags ghcr.io/<repository>/<app>:<commit sha>');
  check(tagged('latest'), 'tags ghcr.io/<repository>/<app>:latest');
  return problems;
}

function spaceJobProblems(id: string, job: Job, imagesJobs: string[]): string[] {
  const { problems, check } = problemList(`${WHERE} job ${id}`);
  check(
    typeof job.if === 'string' && /\bvars\.\w+\s*!=\s*''/.test(job.if),
    "runs only when its target is configured (if: vars.… != '')",
  );
  check(
    needsOf(job).some((need) => imagesJobs.includes(need)),
    'deploys after the images are pushed (needs the images job)',
  );
  const hfToken = [job.env?.HF_TOKEN, ...stepsOf(job).map((step) => step.env?.HF_TOKEN)];
  check(
    hfToken.some((value) => expressionBody(value) === 'secrets.HF_TOKEN'),
    'takes HF_TOKEN from the secret HF_TOKEN',
  );
  check(
    stepsOf(job).some((step) => /-z "\$HF_TOKEN"/.test(step.run ?? '')),
    'fails with a message when HF_TOKEN is empty',
  );
  const scripts = stepsOf(job).map((step) => step.run ?? '');
  check(
    scripts.some((script) => /huggingface\.co\/spaces\//.test(script) && /\bgit push\b/.test(script)),
    'pushes to the Space with git',
  );
  return problems;
}

/** The project-specific promises of deploy.yml (the schema is checked separately). */
export function deployProblems(deployText: string): string[] {
  const workflow = parseWorkflow(deployText);
  const { problems, check } = problemList(WHERE);
  const on = triggers(workflow);
  const push = on.push as { branches?: string[] } | null | undefined;
  check(Array.isArray(push?.branches) && push.branches.includes('main'), 'runs on push to main');
  check('workflow_dispatch' in on, 'can be run by hand (workflow_dispatch)');
  check(
    runsOneAtATime(workflow),
    'runs one deploy at a time without cancelling one halfway (concurrency group, cancel-in-progress: false)',
  );

  const appsJobs = Object.keys(dockerAppsJobs(workflow));
  check(appsJobs.length === 1, 'has one job whose outputs.apps comes from the docker-apps action');
  for (const id of appsJobs) {
    problems.push(...affectedJobProblems(workflow, id, WHERE));
    check(
      /github\.ref == 'refs\/heads\/main'/.test(workflow.jobs[id].if ?? ''),
      `job ${id}: deploys from main only (if: github.ref == 'refs/heads/main')`,
    );
  }

  const imagesJobs = Object.entries(workflow.jobs).filter(([, job]) =>
    stepsOf(job).some((step) => usesAction(step, 'docker/build-push-action')),
  );
  check(imagesJobs.length === 1, 'has one job that builds and pushes the images');
  for (const [id, job] of imagesJobs) {
    check(
      matrixSource(workflow, job) !== undefined,
      `job ${id}: pushes the images of the docker-apps matrix`,
    );
    problems.push(...imagesJobProblems(workflow, id, job));
  }

  const spaceJobs = Object.entries(workflow.jobs).filter(([, job]) =>
    stepsOf(job).some((step) => /huggingface\.co\/spaces\//.test(step.run ?? '')),
  );
  check(spaceJobs.length === 1, 'has one job that deploys to a Hugging Face Space');
  for (const [id, job] of spaceJobs) {
    problems.push(
      ...spaceJobProblems(
        id,
        job,
        imagesJobs.map(([imagesId]) => imagesId),
      ),
    );
    check(
      typeof job.if === 'string' &&
        /contains\(fromJSON\(needs\.[\w-]+\.outputs\.apps\), 'gateway'\)/.test(job.if),
      `job ${id}: deploys only when a new gateway image was pushed`,
    );
  }

  check(
    /docker compose up -d\b/.test(deployText),
    'says how the compose deployment runs (docker compose up -d)',
  );
  check(
    /\bdocker (compose )?pull\b/.test(deployText),
    'says how the compose host gets the images (docker pull)',
  );
  return problems;
}
