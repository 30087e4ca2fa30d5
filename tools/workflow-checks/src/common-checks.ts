import { spawnSync } from 'node:child_process';
import type { GithubFile } from './github-files';
import {
  type Job,
  type Step,
  type Workflow,
  allUses,
  effectiveEnv,
  expressionBody,
  needsOf,
  parseAction,
  parseWorkflow,
  stepsOf,
  usesAction,
} from './workflow-model';

/** Collects the failed expectations of one check, each prefixed with where it applies. */
export function problemList(prefix: string): {
  problems: string[];
  check: (ok: boolean, message: string) => void;
} {
  const problems: string[] = [];
  return {
    problems,
    check: (ok, message) => {
      if (!ok) problems.push(`${prefix}: ${message}`);
    },
  };
}

/** A workflow-level concurrency group that queues runs instead of cancelling one halfway. */
export function runsOneAtATime(workflow: Workflow): boolean {
  return (
    typeof workflow.concurrency === 'object' &&
    Boolean(workflow.concurrency.group) &&
    workflow.concurrency['cancel-in-progress'] === false
  );
}

/** The composite action that lists the affected apps with a Dockerfile (`outputs.apps`, a JSON array). */
export const DOCKER_APPS_ACTION = './.github/actions/docker-apps';

/** `owner/repo[/path]@<full commit SHA>`: the only reference to another repository's action that cannot move. */
const SHA_PIN = /^([\w.-]+\/[\w.-]+)(?:\/[\w./-]+)?@([0-9a-f]{40})$/;
/** The release the SHA is, in the comment after it (`# v4.2.2`), which Dependabot keeps in step. */
const VERSION_COMMENT = /^v\d+(?:\.\d+){0,2}$/;
/** A `uses:` line: the value (quoted or not) and the comment after it. */
const USES_LINE = /^\s*(?:-\s+)?uses:\s*(['"]?)([^\s'"#]+)\1\s*(?:#\s*(.*?))?\s*$/;

export interface ActionPin {
  file: string;
  /** owner/repo */
  action: string;
  sha: string;
  /** The version comment, when there is one. */
  version?: string;
}

/** Every `uses:` line of the text, with its value and its comment. */
function usesLines(text: string): { uses: string; comment?: string; line: number }[] {
  return text.split('\n').flatMap((line, index) => {
    const match = USES_LINE.exec(line);
    return match ? [{ uses: match[2], comment: match[3] || undefined, line: index + 1 }] : [];
  });
}

/** The SHA-pinned actions of a file, one entry per `uses:` line. */
export function actionPins(file: GithubFile): ActionPin[] {
  return usesLines(file.text).flatMap(({ uses, comment }) => {
    const pin = SHA_PIN.exec(uses);
    return pin ? [{ file: file.path, action: pin[1], sha: pin[2], version: comment }] : [];
  });
}

/**
 * Actions are local (`./…`) or pinned by full commit SHA with the release in a comment
 * (`actions/checkout@<40 hex> # v4.2.2`): a tag or branch can be moved to other code, a commit cannot. Docker
 * actions (`docker://`) need a digest.
 */
export function pinProblems(file: GithubFile): string[] {
  const document = file.kind === 'workflow' ? parseWorkflow(file.text) : parseAction(file.text);
  const lines = usesLines(file.text);
  const problems: string[] = [];
  for (const uses of allUses(document)) {
    if (uses.startsWith('./')) continue;
    if (uses.startsWith('docker://')) {
      if (!/@sha256:[0-9a-f]{64}$/.test(uses))
        problems.push(`${file.path}: "${uses}" is not pinned by digest (docker://image:tag@sha256:…)`);
      continue;
    }
    if (!SHA_PIN.test(uses)) {
      problems.push(
        `${file.path}: "${uses}" is not pinned by a full commit SHA (owner/repo@<40 hex> # vX.Y.Z)`,
      );
      continue;
    }
    const found = lines.filter((line) => line.uses === uses);
    if (found.length === 0) problems.push(`${file.path}: "${uses}" is not on a "uses:" line of its own`);
    for (const line of found) {
      if (!line.comment || !VERSION_COMMENT.test(line.comment)) {
        problems.push(
          `${file.path} line ${line.line}: "${uses}" has no version comment (# vX.Y.Z after the SHA)`,
        );
      }
    }
  }
  return [...new Set(problems)];
}

/**
 * One pin per action across all the files: the same commit and the same version comment everywhere, so an
 * update (Dependabot's grouped pull request) moves every file at once and no workflow is left behind.
 */
export function pinConsistencyProblems(files: GithubFile[]): string[] {
  const byAction = new Map<string, Map<string, string[]>>();
  for (const pin of files.flatMap(actionPins)) {
    const key = `${pin.sha} # ${pin.version ?? '(no version)'}`;
    const pins = byAction.get(pin.action) ?? new Map<string, string[]>();
    pins.set(key, [...new Set([...(pins.get(key) ?? []), pin.file])]);
    byAction.set(pin.action, pins);
  }
  return [...byAction]
    .filter(([, pins]) => pins.size > 1)
    .map(
      ([action, pins]) =>
        `${action} is pinned differently: ${[...pins]
          .map(([pin, where]) => `${pin} (${where.join(', ')})`)
          .join('; ')}`,
    );
}

/** GitHub refuses `secrets` in a job's `if` (the workflow fails to start); the schema does not catch it. */
export function jobIfProblems(file: GithubFile): string[] {
  if (file.kind !== 'workflow') return [];
  return Object.entries(parseWorkflow(file.text).jobs)
    .filter(([, job]) => typeof job.if === 'string' && /\bsecrets\./.test(job.if))
    .map(
      ([id]) => `${file.path}: job ${id} reads secrets in its if (use vars, or check the secret in a step)`,
    );
}

/**
 * Every bash script of a step parses (`bash -n`), with each `${{ … }}` (which the runner substitutes first)
 * replaced by a plain word. Steps run with bash unless they name another shell.
 */
export function scriptSyntaxProblems(file: GithubFile): string[] {
  const steps =
    file.kind === 'workflow'
      ? Object.entries(parseWorkflow(file.text).jobs).flatMap(([id, job]) =>
          stepsOf(job).map((step, index) => ({
            where: `job ${id} step ${step.id ?? step.name ?? index + 1}`,
            step,
          })),
        )
      : (parseAction(file.text).runs.steps ?? []).map((step, index) => ({
          where: `step ${step.id ?? step.name ?? index + 1}`,
          step,
        }));
  const problems: string[] = [];
  for (const { where, step } of steps) {
    if (typeof step.run !== 'string' || (step.shell !== undefined && step.shell !== 'bash')) continue;
    const script = step.run.replace(/\$\{\{[\s\S]*?\}\}/g, 'EXPRESSION');
    const result = spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' });
    if (result.status !== 0) problems.push(`${file.path} ${where}: ${result.stderr.trim()}`);
  }
  return problems;
}

/** The jobs whose steps run `script` (a regular expression over each run script). */
export function jobsRunning(workflow: Workflow, script: RegExp): string[] {
  return Object.entries(workflow.jobs)
    .filter(([, job]) => stepsOf(job).some((step) => typeof step.run === 'string' && script.test(step.run)))
    .map(([id]) => id);
}

const firstIndex = (steps: Step[], predicate: (step: Step) => boolean) => steps.findIndex(predicate);
const runs = (pattern: RegExp) => (step: Step) => typeof step.run === 'string' && pattern.test(step.run);
const runsAffected = (step: Step) =>
  (typeof step.run === 'string' && /\bnx\b.*--?affected\b|\bnx affected\b/.test(step.run)) ||
  usesAction(step, DOCKER_APPS_ACTION);

/**
 * A job that runs Nx on the affected projects: full-history checkout, Node 20 with the npm cache, `npm ci`
 * with the CI environment, and nrwl/nx-set-shas before the first affected command.
 */
export function affectedJobProblems(workflow: Workflow, jobId: string, where: string): string[] {
  const job = workflow.jobs[jobId];
  if (!job) return [`${where}: no job ${jobId}`];
  const steps = stepsOf(job);
  const { problems, check } = problemList(`${where} job ${jobId}`);

  const checkout = firstIndex(steps, (step) => usesAction(step, 'actions/checkout'));
  check(checkout === 0, 'starts with actions/checkout');
  check(
    checkout >= 0 && String(steps[checkout].with?.['fetch-depth']) === '0',
    'checks out the full history (fetch-depth: 0), which nx affected needs to reach its base commit',
  );

  const setupNode = steps.find((step) => usesAction(step, 'actions/setup-node'));
  check(String(setupNode?.with?.['node-version']) === '20', 'sets up Node 20 (actions/setup-node)');
  check(setupNode?.with?.cache === 'npm', 'caches npm downloads (setup-node cache: npm)');

  const install = firstIndex(steps, runs(/^\s*npm ci\b/m));
  check(install >= 0, 'installs with npm ci');
  if (install >= 0) {
    const env = (name: string) => effectiveEnv(workflow, job, steps[install], name);
    check(env('ONNXRUNTIME_NODE_INSTALL') === 'skip', 'npm ci runs with ONNXRUNTIME_NODE_INSTALL=skip');
    check(env('NX_DAEMON') === 'false', 'runs with NX_DAEMON=false');
    check(env('NX_NO_CLOUD') === 'true', 'runs with NX_NO_CLOUD=true');
  }

  const setShas = firstIndex(steps, (step) => usesAction(step, 'nrwl/nx-set-shas'));
  const affected = firstIndex(steps, runsAffected);
  check(affected >= 0, 'runs an affected command');
  check(
    setShas > checkout && setShas >= 0 && setShas < affected,
    'runs nrwl/nx-set-shas after the checkout and before the first affected command',
  );
  return problems;
}

/** The jobs that compute the affected apps with a Dockerfile, with the step output they expose as `apps`. */
export function dockerAppsJobs(workflow: Workflow): Record<string, string> {
  const found: Record<string, string> = {};
  for (const [id, job] of Object.entries(workflow.jobs)) {
    const step = stepsOf(job).find((candidate) => usesAction(candidate, DOCKER_APPS_ACTION));
    if (step?.id && expressionBody(job.outputs?.apps) === `steps.${step.id}.outputs.apps`)
      found[id] = step.id;
  }
  return found;
}

/**
 * The job whose `apps` output is `job`'s matrix: `matrix.app: ${{ fromJSON(needs.<it>.outputs.apps) }}`, with
 * <it> a docker-apps job this job needs. Undefined when the matrix comes from anywhere else.
 */
export function matrixSource(workflow: Workflow, job: Job): string | undefined {
  const matrix = job.strategy?.matrix;
  if (typeof matrix !== 'object' || matrix === null) return undefined;
  const body = expressionBody(matrix.app);
  const source = body && /^fromJSON\(needs\.([\w-]+)\.outputs\.apps\)$/.exec(body)?.[1];
  if (!source || !needsOf(job).includes(source) || !(source in dockerAppsJobs(workflow))) return undefined;
  return source;
}

/** A job with a docker-apps matrix must not run with an empty one (`fromJSON('[]')` fails the workflow). */
export function matrixGuardProblems(workflow: Workflow, jobId: string, where: string): string[] {
  const job: Job | undefined = workflow.jobs[jobId];
  const source = job && matrixSource(workflow, job);
  if (!job || !source) {
    return [`${where} job ${jobId}: matrix.app is not fromJSON(needs.<docker-apps job>.outputs.apps)`];
  }
  const guard = new RegExp(`needs\\.${source}\\.outputs\\.apps\\s*!=\\s*'\\[\\]'`);
  return typeof job.if === 'string' && guard.test(job.if)
    ? []
    : [
        `${where} job ${jobId}: is not skipped when the matrix is empty (if: needs.${source}.outputs.apps != '[]')`,
      ];
}

/**
 * In a reusable workflow (`path`, e.g. `.github/workflows/deploy.yml`): whether `job`'s matrix is
 * `${{ fromJSON(inputs.apps) }}` and every job that calls the workflow, of which there is at least one, passes
 * `with.apps: ${{ needs.<docker-apps job>.outputs.apps }}` from a docker-apps job it needs.
 */
export function matrixFromCallers(files: GithubFile[], path: string, job: Job): boolean {
  const matrix = job.strategy?.matrix;
  if (typeof matrix !== 'object' || matrix === null || expressionBody(matrix.app) !== 'fromJSON(inputs.apps)')
    return false;
  const callers = files
    .filter((file) => file.kind === 'workflow')
    .flatMap((file) => {
      const workflow = parseWorkflow(file.text);
      return Object.values(workflow.jobs)
        .filter((caller) => caller.uses === `./${path}`)
        .map((caller) => ({ workflow, caller }));
    });
  return (
    callers.length > 0 &&
    callers.every(({ workflow, caller }) => {
      const source = /^needs\.([\w-]+)\.outputs\.apps$/.exec(expressionBody(caller.with?.apps) ?? '')?.[1];
      return source !== undefined && needsOf(caller).includes(source) && source in dockerAppsJobs(workflow);
    })
  );
}
