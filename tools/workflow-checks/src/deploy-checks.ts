import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dockerAppsJobs, jobsRunning, problemList, runsOneAtATime } from './common-checks';
import { type GithubFile, WORKSPACE_ROOT } from './github-files';
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
/** The image the Space runs: the gateway, one inference worker and Redis in one container. */
const ALL_IN_ONE_DOCKERFILE = 'apps/all-in-one/Dockerfile';
/** How a job of another workflow calls deploy.yml. */
export const DEPLOY_WORKFLOW = './.github/workflows/deploy.yml';
/** The commit the run is for: in a called workflow, the caller's, i.e. the commit CI tested. */
const SHA = '${{ github.sha }}';

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The image name before `/<app>`, resolved to what it is at run time: `ghcr.io/${{ github.repository }}`
 * written out, or the output of a step of the same job, or of a job this one needs, that writes
 * `<key>=ghcr.io/${GITHUB_REPOSITORY,,}` (lower case, which GHCR requires). Undefined when it is neither.
 */
export function imageBase(workflow: Workflow, job: Job, prefix: string): string | undefined {
  if (prefix === 'ghcr.io/${{ github.repository }}') return 'ghcr.io/<repository>';
  const body = expressionBody(prefix) ?? '';
  let source: { job: Job; step: string; key: string } | undefined;
  const fromStep = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(body);
  if (fromStep) source = { job, step: fromStep[1], key: fromStep[2] };
  const fromJob = /^needs\.([\w-]+)\.outputs\.([\w-]+)$/.exec(body);
  if (fromJob && needsOf(job).includes(fromJob[1]) && workflow.jobs[fromJob[1]]) {
    const output = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(
      expressionBody(workflow.jobs[fromJob[1]].outputs?.[fromJob[2]]) ?? '',
    );
    if (output) source = { job: workflow.jobs[fromJob[1]], step: output[1], key: output[2] };
  }
  if (!source) return undefined;
  const { step: id, key } = source;
  const step = stepsOf(source.job).find((candidate) => candidate.id === id);
  return step?.run?.includes(`${key}=ghcr.io/\${GITHUB_REPOSITORY,,}`)
    ? 'ghcr.io/<repository, lower case>'
    : undefined;
}

/** The tags a build-push-action step pushes, one per line or comma. */
function tagsOf(job: Job): string[] {
  const build = stepsOf(job).find((step) => usesAction(step, 'docker/build-push-action'));
  return String(build?.with?.tags ?? '')
    .split(/[\n,]/)
    .map((tag) => tag.trim())
    .filter(Boolean);
}

function imagesJobProblems(workflow: Workflow, id: string, job: Job): string[] {
  const { problems, check } = problemList(`${WHERE} job ${id}`);
  const matrix = job.strategy?.matrix;
  check(
    isRecord(matrix) && expressionBody(matrix.app) === 'fromJSON(inputs.apps)',
    'builds the apps it is given (matrix.app: ${{ fromJSON(inputs.apps) }})',
  );
  check(
    typeof job.if === 'string' && /inputs\.apps\s*!=\s*'\[\]'/.test(job.if),
    "is not skipped when there is no app (if: inputs.apps != '[]'; fromJSON('[]') fails the workflow)",
  );
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
  const tags = tagsOf(job);
  const immutable = tags.filter((tag) => {
    const match = /^(.*)\/\$\{\{ matrix\.app \}\}:(.*)$/.exec(tag);
    return match !== null && match[2] === SHA && imageBase(workflow, job, match[1]) !== undefined;
  });
  check(
    tags.length === 1 && immutable.length === 1,
    `pushes one tag, the commit CI tested: ghcr.io/<repository>/<app>:${SHA} (found ${tags.join(', ') || 'none'})`,
  );
  return problems;
}

/** The port the all-in-one image serves on (its EXPOSE), which the Space's app_port must name. */
export function allInOnePort(root = WORKSPACE_ROOT): string | undefined {
  const dockerfile = join(root, ALL_IN_ONE_DOCKERFILE);
  return existsSync(dockerfile) ? /^EXPOSE (\d+)$/m.exec(readFileSync(dockerfile, 'utf8'))?.[1] : undefined;
}

function spaceJobProblems(id: string, job: Job, imagesJobs: string[], port: string | undefined): string[] {
  const { problems, check } = problemList(`${WHERE} job ${id}`);
  check(
    typeof job.if === 'string' && /\bvars\.\w+\s*!=\s*''/.test(job.if),
    "runs only when its target is configured (if: vars.… != '')",
  );
  check(
    typeof job.if === 'string' && /contains\(fromJSON\(inputs\.apps\), 'all-in-one'\)/.test(job.if),
    'deploys only when a new all-in-one image was pushed',
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
  check(
    String(job.env?.IMAGE ?? '').endsWith(`/all-in-one:${SHA}`) &&
      scripts.some((script) => /^\s*FROM \$\{IMAGE\}\s*$/m.test(script)),
    `runs the all-in-one image of the commit CI tested (FROM <base>/all-in-one:${SHA})`,
  );
  // A Docker Space whose traffic goes to the port the image serves on.
  const frontMatter = scripts
    .map((script) => /^\s*---\n([\s\S]*?)\n\s*---$/m.exec(script)?.[1] ?? '')
    .join('\n');
  check(/^\s*sdk: docker$/m.test(frontMatter), 'writes a README whose front matter says sdk: docker');
  check(
    port !== undefined && new RegExp(`^\\s*app_port: ${port}$`, 'm').test(frontMatter),
    `writes app_port: ${port ?? '<the EXPOSE of apps/all-in-one/Dockerfile>'} (the all-in-one image's port)`,
  );
  // The model pin: from variables, checked before the push, written into the Space's Dockerfile.
  for (const name of ['MODEL_REVISION', 'MODEL_SHA256']) {
    check(/^vars\.\w+$/.test(expressionBody(job.env?.[name]) ?? ''), `takes ${name} from a variable`);
    check(
      scripts.some((script) => new RegExp(`\\$${name} =~ \\^\\[0-9a-f\\]\\{(40|64)\\}\\$`).test(script)),
      `fails with a message when ${name} is not a pin (a commit, a sha256)`,
    );
    check(
      scripts.some((script) => new RegExp(`^\\s*ENV .*\\b${name}=\\$\\{${name}\\}`, 'm').test(script)),
      `writes ${name} into the Space's Dockerfile (ENV ${name}=\${${name}})`,
    );
  }
  return problems;
}

function composeJobProblems(id: string, job: Job, imagesJobs: string[]): string[] {
  const { problems, check } = problemList(`${WHERE} job ${id}`);
  check(
    typeof job.if === 'string' && /\bvars\.\w+\s*!=\s*''/.test(job.if),
    "runs only when its target is configured (if: vars.… != '')",
  );
  check(
    needsOf(job).some((need) => imagesJobs.includes(need)),
    'deploys after the images are pushed (needs the images job)',
  );
  const script = stepsOf(job)
    .map((step) => step.run ?? '')
    .join('\n');
  check(
    /\bdocker pull "\$IMAGE_BASE\/\$app:\$SHA"/.test(script) &&
      /\bSHA=\$\(printf %q "\$GITHUB_SHA"\)/.test(script),
    'pulls each image by the commit CI tested (docker pull "$IMAGE_BASE/$app:$SHA", SHA from GITHUB_SHA)',
  );
  check(/\bdocker compose up -d\b/.test(script), 'restarts the stack (docker compose up -d)');
  check(expressionBody(job.env?.APPS) === 'inputs.apps', 'deploys the apps it is given (APPS: inputs.apps)');
  check(
    /map\(select\(\. != "all-in-one"\)\)/.test(script),
    'leaves all-in-one (the Space\'s image) out of the stack (jq map(select(. != "all-in-one")))',
  );
  return problems;
}

/**
 * The promises of deploy.yml (the schema is checked separately): no trigger of its own (ci.yml calls it once
 * the tests passed, see deployCallerProblems), images pushed by the commit sha only, never `latest`, every
 * target deploying that commit.
 */
export function deployProblems(deployText: string, port = allInOnePort()): string[] {
  const workflow = parseWorkflow(deployText);
  const { problems, check } = problemList(WHERE);
  const on = triggers(workflow);
  check(
    Object.keys(on).length === 1 && 'workflow_call' in on,
    `has no trigger of its own, only workflow_call (ci.yml calls it once the tests passed); found ${Object.keys(on).join(', ')}`,
  );
  const call = isRecord(on.workflow_call) ? on.workflow_call : {};
  const apps = isRecord(call.inputs) && isRecord(call.inputs.apps) ? call.inputs.apps : {};
  check(apps.type === 'string' && apps.required === true, 'takes the apps as a required string input apps');

  const jobsText = JSON.stringify(workflow.jobs);
  check(!/:latest\b/.test(jobsText), 'never pushes or pulls a latest tag');
  for (const [id, job] of Object.entries(workflow.jobs)) {
    for (const step of stepsOf(job)) {
      if (usesAction(step, 'actions/checkout'))
        check(step.with?.ref === undefined, `job ${id}: checks out the commit CI tested (no ref)`);
    }
  }

  const imagesJobs = Object.entries(workflow.jobs).filter(([, job]) =>
    stepsOf(job).some((step) => usesAction(step, 'docker/build-push-action')),
  );
  check(imagesJobs.length === 1, 'has one job that builds and pushes the images');
  for (const [id, job] of imagesJobs) problems.push(...imagesJobProblems(workflow, id, job));
  const imagesIds = imagesJobs.map(([id]) => id);

  const spaceJobs = Object.entries(workflow.jobs).filter(([, job]) =>
    stepsOf(job).some((step) => /huggingface\.co\/spaces\//.test(step.run ?? '')),
  );
  check(spaceJobs.length === 1, 'has one job that deploys to a Hugging Face Space');
  for (const [id, job] of spaceJobs) problems.push(...spaceJobProblems(id, job, imagesIds, port));

  const composeJobs = Object.entries(workflow.jobs).filter(([, job]) =>
    stepsOf(job).some((step) => /\bdocker compose up\b/.test(step.run ?? '')),
  );
  check(composeJobs.length === 1, 'has one job that deploys to the compose host');
  for (const [id, job] of composeJobs) problems.push(...composeJobProblems(id, job, imagesIds));
  return problems;
}

/**
 * The only way into deploy.yml: one job of ci.yml that calls it on main (a push or a manual run, never a pull
 * request), after the jobs that run the tests, list the apps and build their images, with nothing in its `if`
 * that would run it when they failed; one deploy at a time; the apps are the docker-apps job's output. No other
 * workflow calls deploy.yml.
 */
export function deployCallerProblems(files: GithubFile[]): string[] {
  const where = '.github/workflows/ci.yml';
  const { problems, check } = problemList(where);
  const callers = files
    .filter((file) => file.kind === 'workflow')
    .flatMap((file) =>
      Object.entries(parseWorkflow(file.text).jobs)
        .filter(([, job]) => job.uses === DEPLOY_WORKFLOW)
        .map(([id]) => `${file.path} job ${id}`),
    );
  const ciFile = files.find((file) => file.path === where);
  if (!ciFile) return [`${where}: missing`];
  const workflow = parseWorkflow(ciFile.text);
  const deployJobs = Object.entries(workflow.jobs).filter(([, job]) => job.uses === DEPLOY_WORKFLOW);
  check(
    deployJobs.length === 1 && callers.length === 1,
    `is the only caller of deploy.yml, from one job (callers: ${callers.join(', ') || 'none'})`,
  );
  const testJobs = jobsRunning(workflow, /\bnx affected\b/);
  const appsJobs = Object.keys(dockerAppsJobs(workflow));
  const buildJobs = Object.entries(workflow.jobs)
    .filter(([, job]) => stepsOf(job).some((step) => usesAction(step, 'docker/build-push-action')))
    .map(([id]) => id);
  for (const [id, job] of deployJobs) {
    const jobCheck = (ok: boolean, message: string) => check(ok, `job ${id}: ${message}`);
    const needs = needsOf(job);
    jobCheck(
      testJobs.length > 0 && testJobs.every((test) => needs.includes(test)),
      `deploys only after the tests pass (needs ${testJobs.join(', ') || 'the test job'})`,
    );
    jobCheck(
      buildJobs.length > 0 && buildJobs.every((build) => needs.includes(build)),
      `deploys only after every image built (needs ${buildJobs.join(', ') || 'the docker job'})`,
    );
    const condition = job.if ?? '';
    jobCheck(
      /github\.ref == 'refs\/heads\/main'/.test(condition) &&
        /github\.event_name != 'pull_request'/.test(condition),
      "deploys from main only, never for a pull request (if: github.event_name != 'pull_request' && github.ref == 'refs/heads/main')",
    );
    jobCheck(
      !/\b(always|failure|cancelled)\(\)|!\s*cancelled|\bresult\b/.test(condition),
      'has no if that would run it after a failed or cancelled need',
    );
    const source = /^needs\.([\w-]+)\.outputs\.apps$/.exec(expressionBody(job.with?.apps) ?? '')?.[1];
    jobCheck(
      source !== undefined && appsJobs.includes(source) && needs.includes(source),
      "deploys the docker-apps job's list (with.apps: ${{ needs.<docker-apps job>.outputs.apps }})",
    );
    const permissions = job.permissions;
    jobCheck(
      typeof permissions === 'object' &&
        permissions.packages === 'write' &&
        Object.keys(permissions).every((scope) => scope === 'packages' || permissions[scope] === 'read'),
      'grants packages: write and nothing else beyond read',
    );
    jobCheck(
      runsOneAtATime({ jobs: {}, concurrency: job.concurrency }),
      'runs one deploy at a time without cancelling one halfway (concurrency group, cancel-in-progress: false)',
    );
  }
  const on = triggers(workflow);
  const dispatch = isRecord(on.workflow_dispatch) ? on.workflow_dispatch : {};
  const deployAll = isRecord(dispatch.inputs) ? dispatch.inputs['deploy-all'] : undefined;
  check(
    isRecord(deployAll) && deployAll.type === 'boolean',
    'can be run by hand to deploy every app (workflow_dispatch input deploy-all, a boolean)',
  );
  for (const id of appsJobs) {
    const step = stepsOf(workflow.jobs[id]).find(
      (candidate) => candidate.id === dockerAppsJobs(workflow)[id],
    );
    check(
      expressionBody(step?.with?.all) === 'inputs.deploy-all == true',
      `job ${id}: lists every app when asked (with.all: \${{ inputs.deploy-all == true }})`,
    );
  }
  return problems;
}
