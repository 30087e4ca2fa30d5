import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expressionBody, parseAction } from './workflow-model';

export interface StepResult {
  status: number | null;
  outputs: Record<string, string>;
  stdout: string;
  stderr: string;
}

/** Parses a GITHUB_OUTPUT file: `name=value` lines and `name<<DELIMITER` … `DELIMITER` blocks. */
export function parseGithubOutput(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index];
    const block = /^([^=<]+)<<(.+)$/.exec(line);
    if (block) {
      const end = lines.indexOf(block[2], index + 1);
      if (end < 0) throw new Error(`GITHUB_OUTPUT: ${block[1]} has no closing ${block[2]}`);
      outputs[block[1]] = lines.slice(index + 1, end).join('\n');
      index = end;
    } else if (line.includes('=')) {
      outputs[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
    }
  }
  return outputs;
}

/**
 * Runs the bash script of one step of a composite action the way a runner does
 * (`bash --noprofile --norc -eo pipefail`, GITHUB_OUTPUT set), in `cwd`. The step's env may hold
 * `${{ inputs.<name> }}`, resolved from `inputs` or the input's default; any other expression, in env or
 * script, cannot be evaluated here and throws.
 */
export function runActionStep(
  actionText: string,
  stepId: string,
  options: { cwd: string; env: NodeJS.ProcessEnv; inputs?: Record<string, string> },
): StepResult {
  const action = parseAction(actionText);
  const step = (action.runs.steps ?? []).find((candidate) => candidate.id === stepId);
  if (!step || typeof step.run !== 'string') throw new Error(`no run step with id ${stepId}`);
  if (step.shell !== 'bash') throw new Error(`step ${stepId} does not run with bash`);
  if (step.run.includes('${{'))
    throw new Error(`step ${stepId}: its script holds an expression; pass it in env`);

  const stepEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries(step.env ?? {})) {
    const body = expressionBody(value);
    const input = body && /^inputs\.([\w-]+)$/.exec(body)?.[1];
    if (input) stepEnv[name] = options.inputs?.[input] ?? String(action.inputs?.[input]?.default ?? '');
    else if (String(value).includes('${{'))
      throw new Error(`step ${stepId}: env ${name} cannot be evaluated here`);
    else stepEnv[name] = String(value);
  }

  const dir = mkdtempSync(join(tmpdir(), 'workflow-step-'));
  try {
    const outputFile = join(dir, 'output');
    writeFileSync(outputFile, '');
    const result = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', step.run], {
      cwd: options.cwd,
      env: { ...options.env, ...stepEnv, GITHUB_OUTPUT: outputFile },
      encoding: 'utf8',
    });
    if (result.error) throw result.error;
    return {
      status: result.status,
      outputs: parseGithubOutput(readFileSync(outputFile, 'utf8')),
      stdout: result.stdout,
      stderr: result.stderr,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
