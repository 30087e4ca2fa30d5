import { type ValidationError, validateAction, validateWorkflow } from '@action-validator/core';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

export const WORKSPACE_ROOT = resolve(__dirname, '../../..');

export type GithubFileKind = 'workflow' | 'action';

export interface GithubFile {
  /** Path from the workspace root, e.g. `.github/workflows/ci.yml`. */
  path: string;
  kind: GithubFileKind;
  text: string;
}

const YAML_FILE = /\.ya?ml$/;

/** The workflows (`.github/workflows/*.yml`) and local actions (`.github/actions/<name>/action.yml`). */
export function listGithubFiles(root = WORKSPACE_ROOT): GithubFile[] {
  const files: GithubFile[] = [];
  const read = (path: string, kind: GithubFileKind) =>
    files.push({ path, kind, text: readFileSync(join(root, path), 'utf8') });

  const workflows = join(root, '.github/workflows');
  if (existsSync(workflows)) {
    for (const name of readdirSync(workflows).sort()) {
      if (YAML_FILE.test(name)) read(`.github/workflows/${name}`, 'workflow');
    }
  }
  const actions = join(root, '.github/actions');
  if (existsSync(actions)) {
    for (const dir of readdirSync(actions).sort()) {
      const name = ['action.yml', 'action.yaml'].find((file) => existsSync(join(actions, dir, file)));
      if (name) read(`.github/actions/${dir}/${name}`, 'action');
    }
  }
  return files;
}

export function githubFile(path: string, root = WORKSPACE_ROOT): GithubFile {
  const file = listGithubFiles(root).find((candidate) => candidate.path === path);
  if (!file) throw new Error(`${path} is not a workflow or local action under ${root}`);
  return file;
}

/**
 * Errors of @action-validator/core (YAML parse errors, and the published JSON schema of GitHub workflows or
 * actions), one line each; nested "one of" alternatives are flattened into their own lines.
 */
export function validationErrors(kind: GithubFileKind, text: string): string[] {
  const state = kind === 'workflow' ? validateWorkflow(text) : validateAction(text);
  const lines: string[] = [];
  const walk = (errors: ValidationError[], depth: number) => {
    for (const error of errors) {
      const where = 'path' in error && error.path ? `${error.path}: ` : '';
      const location = 'location' in error && error.location ? ` (line ${error.location.line})` : '';
      lines.push(
        `${'  '.repeat(depth)}${where}${error.title}${error.detail ? `: ${error.detail}` : ''}${location}`,
      );
      if ('states' in error && error.states) {
        for (const nested of error.states) walk(nested.errors, depth + 1);
      }
    }
  };
  walk(state.errors, 0);
  return lines;
}

/** The YAML document as plain data (throws on a parse error). */
export function parseYaml(text: string): unknown {
  return parse(text);
}
