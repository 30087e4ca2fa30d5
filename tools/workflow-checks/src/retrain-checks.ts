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

/** The exit code with which `npm run gate` says "not passed" (tools/retrain cli.ts), as opposed to a failure. */
export const GATE_NOT_PASSED_EXIT = 3;

/**
 * The project-specific promises of retrain.yml (the schema is checked separately): it answers the drift
 * monitor's repository_dispatch event (training on the snapshot it names) and manual runs, one at a time;
 * trains a candidate from the champion, gates it against the champion, uploads the gate report even when
 * something fails, publishes only a candidate that passed, and keeps event data out of its scripts.
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
  check(
    steps.some((step) => /^npm ci\b/m.test(step.run ?? '')),
    'installs the project (npm ci)',
  );
  check(
    steps.some((step) => usesAction(step, './.github/actions/shared-data')),
    'puts the golden set (../shared/data) in place with the shared-data action',
  );
  check(
    steps.some((step) =>
      Object.values(step.env ?? {}).some((value) =>
        /github\.event\.client_payload\.datasetSnapshot/.test(String(value)),
      ),
    ),
    'reads the snapshot the drift monitor names (client_payload.datasetSnapshot) through env',
  );
  for (const script of ['model:pull', 'retrain', 'gate', 'model:publish']) {
    check(script in scripts, `calls npm scripts that package.json defines (${script})`);
  }

  const train = steps.find((step) => /\bnpm run retrain\b/.test(step.run ?? ''));
  check(train !== undefined, 'trains a candidate (npm run retrain)');
  const flag = (step: Step | undefined, name: string) => (step ? flagValue(step.run ?? '', name) : undefined);
  for (const name of ['--base', '--dataset', '--out', '--golden']) {
    check(train === undefined || flag(train, name) !== undefined, `gives the trainer ${name}`);
  }
  const gate = steps.find((step) => /\bnpm run gate\b/.test(step.run ?? ''));
  check(gate !== undefined, 'gates the candidate (npm run gate)');
  check(
    gate === undefined || train === undefined || flag(gate, '--champion') === flag(train, '--base'),
    "gates against the model the candidate was trained from (--champion is the trainer's --base)",
  );
  check(
    gate === undefined || train === undefined || flag(gate, '--candidate') === flag(train, '--out'),
    "gates the candidate the trainer wrote (--candidate is the trainer's --out)",
  );
  check(gate === undefined || flag(gate, '--golden') !== undefined, 'names the golden set (--golden)');
  check(
    gate === undefined || new RegExp(`"?\\$code"?\\s*=\\s*"?${GATE_NOT_PASSED_EXIT}\\b`).test(gate.run ?? ''),
    `tells a gate that did not pass (exit ${GATE_NOT_PASSED_EXIT}) from a failure`,
  );
  const report = flag(gate, '--out');
  const upload = steps.find((step) => usesAction(step, 'actions/upload-artifact'));
  check(upload !== undefined, 'uploads the gate report (actions/upload-artifact)');
  check(
    upload === undefined ||
      (report !== undefined &&
        String(upload.with?.path ?? '')
          .split('\n')
          .includes(report)),
    `uploads the file the gate writes (--out ${report ?? '?'})`,
  );
  check(
    upload === undefined || upload.if === 'always()',
    'uploads the report even when a step fails (if: always())',
  );
  const publish = steps.find((step) => /\bnpm run model:publish\b/.test(step.run ?? ''));
  check(publish !== undefined, 'publishes a candidate that passed (npm run model:publish)');
  check(
    publish === undefined || /verdict\s*==\s*'pass'/.test(String(publish.if ?? '')),
    "publishes only when the gate passed (if: ... verdict == 'pass')",
  );
  check(
    publish === undefined ||
      (flag(publish, '--candidate') === flag(train, '--out') && flag(publish, '--report') === report),
    'publishes the gated candidate with its gate report',
  );
  const spliced = steps.filter((step) => /\$\{\{[^}]*github\.event\./.test(step.run ?? ''));
  check(
    spliced.length === 0,
    `passes event data to scripts through env, not \${{ github.event… }} inside run (${spliced.map((s) => s.name ?? s.run?.slice(0, 30)).join(', ')})`,
  );
  return problems;
}
