import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_EVENT_TYPE } from '@reputation-monitor/retrain-trigger';
import { problemList, runsOneAtATime } from './common-checks';
import { WORKSPACE_ROOT } from './github-files';
import { type Step, parseWorkflow, stepsOf, triggers, usesAction } from './workflow-model';

const WHERE = '.github/workflows/retrain.yml';

/** The value of `--flag value` (or `--flag=value`) in a script, with line continuations joined. */
function flagValue(script: string, flag: string): string | undefined {
  const joined = script.replace(/\\\n/g, ' ');
  return new RegExp(`${flag}(?:=|\\s+)("[^"]*"|\\S+)`).exec(joined)?.[1]?.replace(/^"|"$/g, '');
}

function npmScripts(): Record<string, string> {
  const manifest = JSON.parse(readFileSync(join(WORKSPACE_ROOT, 'package.json'), 'utf8')) as {
    scripts?: Record<string, string>;
  };
  return manifest.scripts ?? {};
}

/**
 * The project-specific promises of retrain.yml (the schema is checked separately): it answers the drift
 * monitor's repository_dispatch event and manual runs, one at a time, evaluates the current model on the
 * golden set through Redis, uploads the report even when the evaluation fails, and keeps event data out of
 * its scripts.
 */
export function retrainProblems(text: string, scripts = npmScripts()): string[] {
  const workflow = parseWorkflow(text);
  const { problems, check } = problemList(WHERE);
  const on = triggers(workflow);
  const dispatch = on.repository_dispatch as { types?: string[] } | null | undefined;
  check(
    Array.isArray(dispatch?.types) && dispatch.types.includes(DEFAULT_EVENT_TYPE),
    `runs on repository_dispatch of type ${DEFAULT_EVENT_TYPE} (the drift monitor's RETRAIN_EVENT_TYPE default)`,
  );
  check('workflow_dispatch' in on, 'can be run by hand (workflow_dispatch)');
  check(
    runsOneAtATime(workflow),
    'runs one retraining at a time without cancelling one halfway (concurrency group, cancel-in-progress: false)',
  );

  const steps: Step[] = Object.values(workflow.jobs).flatMap(stepsOf);
  const jobs = Object.values(workflow.jobs);
  check(
    jobs.some((job) =>
      Object.values(job.services ?? {}).some((service) => /^redis[:@]/.test(service.image ?? '')),
    ),
    'has a Redis service (the evaluation goes through the queue)',
  );
  check(
    steps.some((step) => /^npm ci\b/m.test(step.run ?? '')),
    'installs the project (npm ci)',
  );
  check(
    steps.some((step) => usesAction(step, './.github/actions/shared-data')),
    'puts the golden set (../shared/data) in place with the shared-data action',
  );
  const evaluation = steps.find((step) => /\bnpm run eval:golden\b/.test(step.run ?? ''));
  check(evaluation !== undefined, 'runs the golden-set evaluation (npm run eval:golden)');
  check('eval:golden' in scripts, 'calls an npm script that package.json defines (eval:golden)');
  const out = evaluation ? flagValue(evaluation.run ?? '', '--out') : undefined;
  check(
    evaluation === undefined || flagValue(evaluation.run ?? '', '--golden') !== undefined,
    'names the golden set (--golden)',
  );
  const upload = steps.find((step) => usesAction(step, 'actions/upload-artifact'));
  check(upload !== undefined, 'uploads the report (actions/upload-artifact)');
  check(
    upload === undefined ||
      (out !== undefined &&
        String(upload.with?.path ?? '')
          .split('\n')
          .includes(out)),
    `uploads the file the evaluation writes (--out ${out ?? '?'})`,
  );
  check(
    upload === undefined || upload.if === 'always()',
    'uploads the report even when the evaluation fails (if: always())',
  );
  const spliced = steps.filter((step) => /\$\{\{[^}]*github\.event\./.test(step.run ?? ''));
  check(
    spliced.length === 0,
    `passes event data to scripts through env, not \${{ github.event… }} inside run (${spliced.map((s) => s.name ?? s.run?.slice(0, 30)).join(', ')})`,
  );
  check(/training step[\s\S]*later issue/i.test(text), 'says that the training step is a later issue');
  return problems;
}
