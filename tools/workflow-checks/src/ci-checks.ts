import {
  DOCKER_APPS_ACTION,
  affectedJobProblems,
  dockerAppsJobs,
  jobsRunning,
  matrixGuardProblems,
  matrixSource,
  problemList,
} from './common-checks';
import {
  type Job,
  affectedTargets,
  needsOf,
  parseAction,
  parseWorkflow,
  stepsOf,
  triggers,
  usesAction,
} from './workflow-model';

/** What ci.yml runs with `nx affected` before the e2e tier (which runs on its own afterwards). */
export const CI_TARGETS = ['lint', 'typecheck', 'test', 'integration', 'build'];

const sameSet = (actual: string[], expected: string[]) =>
  actual.length === expected.length && expected.every((item) => actual.includes(item));

/** The test job: Redis service, formatting, then the affected targets and the affected e2e tier. */
function testJobProblems(job: Job, where: string): string[] {
  const { problems, check } = problemList(where);
  const redis = Object.values(job.services ?? {}).find((service) => service.image === 'redis:7-alpine');
  check(Boolean(redis), 'has a redis:7-alpine service container');
  check(/--health-cmd/.test(redis?.options ?? ''), 'waits for Redis with a health check (--health-cmd)');
  check(
    (redis?.ports ?? []).some((port) => String(port).startsWith('6379:')),
    'publishes Redis on port 6379 (the default REDIS_URL)',
  );

  const scripts = stepsOf(job).map((step) => step.run ?? '');
  const prettier = scripts.findIndex((script) => /\bnpx prettier --check \.(\s|$)/.test(script));
  const targets = scripts.map((script) => affectedTargets(script));
  const main = targets.findIndex((commands) => commands.some((list) => sameSet(list, CI_TARGETS)));
  const e2e = targets.findIndex((commands) => commands.some((list) => sameSet(list, ['e2e'])));
  check(prettier >= 0, 'checks formatting (npx prettier --check .)');
  check(main >= 0, `runs nx affected -t ${CI_TARGETS.join(' ')}`);
  check(e2e >= 0, 'runs nx affected -t e2e');
  check(prettier < main && main < e2e, 'runs formatting, then the affected targets, then e2e');
  return problems;
}

/** The composite action behind the matrix lists `nx show projects --affected --type app` with a Dockerfile. */
export function dockerAppsActionProblems(actionText: string): string[] {
  const { problems, check } = problemList('.github/actions/docker-apps/action.yml');
  const action = parseAction(actionText);
  const step = (action.runs.steps ?? []).find((candidate) => candidate.id && candidate.run);
  const script = step?.run ?? '';
  check(action.runs.using === 'composite', 'is a composite action');
  check(step?.shell === 'bash', 'runs its script with bash');
  check(
    /\bnpx nx show projects --affected --type app --json\b/.test(script),
    'asks nx for the affected apps',
  );
  check(
    /existsSync\(`apps\/\$\{app\}\/Dockerfile`\)/.test(script),
    'keeps the apps that have apps/<app>/Dockerfile',
  );
  check(/apps=.*>>\s*"\$GITHUB_OUTPUT"/.test(script), 'writes the list to the step output apps');
  check(
    action.outputs?.apps?.value === `\${{ steps.${step?.id}.outputs.apps }}`,
    'exposes it as outputs.apps',
  );
  return problems;
}

/** The project-specific promises of ci.yml (the schema is checked separately). */
export function ciProblems(ciText: string): string[] {
  const where = '.github/workflows/ci.yml';
  const workflow = parseWorkflow(ciText);
  const { problems, check } = problemList(where);
  const on = triggers(workflow);
  check('push' in on && 'pull_request' in on, 'runs on push and pull_request');

  const testJobs = jobsRunning(workflow, /\bnx affected\b/);
  check(testJobs.length > 0, 'has a job that runs nx affected');
  for (const id of testJobs) {
    problems.push(
      ...affectedJobProblems(workflow, id, where),
      ...testJobProblems(workflow.jobs[id], `${where} job ${id}`),
    );
  }

  const appsJobs = Object.keys(dockerAppsJobs(workflow));
  check(appsJobs.length === 1, `has one job whose outputs.apps comes from ${DOCKER_APPS_ACTION}`);
  for (const id of appsJobs) problems.push(...affectedJobProblems(workflow, id, where));

  const dockerJobs = Object.entries(workflow.jobs).filter(([, job]) =>
    stepsOf(job).some(
      (step) =>
        usesAction(step, 'docker/build-push-action') || /\bdocker (buildx )?build\b/.test(step.run ?? ''),
    ),
  );
  check(dockerJobs.length === 1, 'has one job that builds Docker images');
  for (const [id, job] of dockerJobs) {
    problems.push(...matrixGuardProblems(workflow, id, where));
    check(
      needsOf(job).some((need) => testJobs.includes(need)),
      `job ${id}: builds images only after the tests pass (needs the test job)`,
    );
    const source = matrixSource(workflow, job);
    check(source !== undefined, `job ${id}: builds the images of the docker-apps matrix`);
    for (const step of stepsOf(job)) {
      if (usesAction(step, 'docker/build-push-action')) {
        check(
          step.with?.file === 'apps/${{ matrix.app }}/Dockerfile',
          `job ${id}: builds apps/<app>/Dockerfile`,
        );
        check(step.with?.context === '.', `job ${id}: builds from the repository root`);
        check(step.with?.push === false, `job ${id}: does not push (push: false)`);
      }
      if (/\bdocker (buildx )?build\b/.test(step.run ?? '')) {
        check(
          /-f apps\/\$\{\{ matrix\.app \}\}\/Dockerfile \./.test(step.run ?? ''),
          `job ${id}: builds apps/<app>/Dockerfile`,
        );
        check(!/\bdocker push\b/.test(step.run ?? ''), `job ${id}: does not push`);
      }
    }
  }
  return problems;
}
