import { parseYaml } from './github-files';

/** The parts of a GitHub Actions step, job, workflow and composite action that the checks read. */
export interface Step {
  id?: string;
  name?: string;
  if?: string;
  uses?: string;
  run?: string;
  shell?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
}

export interface Job {
  name?: string;
  needs?: string | string[];
  if?: string;
  /** A reusable workflow the job calls, with its inputs and secrets. */
  uses?: string;
  with?: Record<string, unknown>;
  secrets?: 'inherit' | Record<string, unknown>;
  concurrency?: string | { group?: string; 'cancel-in-progress'?: boolean | string };
  env?: Record<string, unknown>;
  permissions?: string | Record<string, string>;
  services?: Record<string, { image?: string; ports?: unknown[]; options?: string }>;
  strategy?: { matrix?: Record<string, unknown> | string };
  outputs?: Record<string, string>;
  steps?: Step[];
}

export interface Workflow {
  name?: string;
  on?: unknown;
  env?: Record<string, unknown>;
  concurrency?: string | { group?: string; 'cancel-in-progress'?: boolean | string };
  permissions?: string | Record<string, string>;
  jobs: Record<string, Job>;
}

export interface Action {
  name?: string;
  inputs?: Record<string, { default?: unknown }>;
  outputs?: Record<string, { value?: string }>;
  runs: { using: string; steps?: Step[] };
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function parseWorkflow(text: string): Workflow {
  const document = parseYaml(text);
  if (!isRecord(document) || !isRecord(document.jobs)) throw new Error('not a workflow: no jobs mapping');
  return document as unknown as Workflow;
}

export function parseAction(text: string): Action {
  const document = parseYaml(text);
  if (!isRecord(document) || !isRecord(document.runs)) throw new Error('not an action: no runs mapping');
  return document as unknown as Action;
}

/** `on` as a mapping from event name to its settings (`on: push` and `on: [push, pull_request]` included). */
export function triggers(workflow: Workflow): Record<string, unknown> {
  const on = workflow.on;
  if (typeof on === 'string') return { [on]: null };
  if (Array.isArray(on)) return Object.fromEntries(on.map((event) => [String(event), null]));
  return isRecord(on) ? on : {};
}

export const needsOf = (job: Job): string[] =>
  job.needs === undefined ? [] : Array.isArray(job.needs) ? job.needs : [job.needs];

export const stepsOf = (job: Job): Step[] => job.steps ?? [];

/** Whether the step uses `action` (`owner/repo` or a local `./path`), whatever the version. */
export const usesAction = (step: Step, action: string): boolean =>
  typeof step.uses === 'string' && step.uses.split('@')[0] === action;

/** The variable as the step sees it: step env over job env over workflow env. */
export function effectiveEnv(workflow: Workflow, job: Job, step: Step, name: string): string | undefined {
  for (const env of [step.env, job.env, workflow.env]) {
    if (env && name in env) return String(env[name]);
  }
  return undefined;
}

/** The body of a value that is one whole `${{ ... }}` expression, trimmed; undefined otherwise. */
export function expressionBody(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^\$\{\{\s*([\s\S]*?)\s*\}\}$/.exec(value.trim());
  return match?.[1];
}

/** Every `uses:` of steps and of jobs that call reusable workflows. */
export function allUses(document: Workflow | Action): string[] {
  const steps =
    'jobs' in document
      ? Object.values(document.jobs).flatMap((job) => [
          ...(job.uses ? [{ uses: job.uses }] : []),
          ...stepsOf(job),
        ])
      : (document.runs.steps ?? []);
  return steps.map((step) => step.uses).filter((uses): uses is string => typeof uses === 'string');
}

/**
 * The targets of each `nx affected` command in a script: `nx affected -t lint test` and
 * `nx affected --targets=lint,test` give ['lint', 'test'].
 */
export function affectedTargets(script: string): string[][] {
  const commands: string[][] = [];
  for (const line of script.split('\n')) {
    const match = /\bnx affected\b(.*)$/.exec(line);
    if (!match) continue;
    const tokens = match[1].trim().split(/\s+/);
    const targets: string[] = [];
    for (let index = 0; index < tokens.length; index++) {
      const token = tokens[index];
      const inline = /^(?:-t|--targets?)=(.+)$/.exec(token);
      if (inline) targets.push(...inline[1].split(','));
      if (token === '-t' || token === '--target' || token === '--targets') {
        while (index + 1 < tokens.length && !tokens[index + 1].startsWith('-')) {
          targets.push(...tokens[++index].split(','));
        }
      }
    }
    commands.push(targets.filter(Boolean));
  }
  return commands;
}
