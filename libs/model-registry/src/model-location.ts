import { resolve } from 'node:path';
import { ModelRegistryError } from './hub-upload';

export const HUB_MODEL_PREFIX = 'hf://models/';
const REPO_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const REVISION_PATTERN = /^[A-Za-z0-9._/-]{1,128}$/;

/**
 * Reads where a model registry or one of its versions lives: `hf://models/<owner>/<name>[@<revision>]`
 * (a Hub model repository, as the Hub's hf:// paths write it; `repo` and `revision`), or a directory
 * (`dir`, made absolute; a directory name may hold an `@`, so it is never split). Anything else with a
 * scheme is refused with a ModelRegistryError.
 */
export function parseModelLocation(text: string): { repo?: string; dir?: string; revision?: string } {
  const trimmed = text.trim();
  if (trimmed === '') throw new ModelRegistryError('a model location is empty');
  if (trimmed.startsWith(HUB_MODEL_PREFIX)) {
    const rest = trimmed.slice(HUB_MODEL_PREFIX.length);
    const at = rest.indexOf('@');
    const repo = at >= 0 ? rest.slice(0, at) : rest;
    const revision = at >= 0 ? rest.slice(at + 1) : undefined;
    if (!REPO_PATTERN.test(repo)) {
      throw new ModelRegistryError(`"${trimmed}" must be hf://models/<owner>/<name>[@<revision>]`);
    }
    if (revision !== undefined && (!REVISION_PATTERN.test(revision) || revision.includes('..'))) {
      throw new ModelRegistryError(`"${revision}" is not a revision (in "${trimmed}")`);
    }
    return revision === undefined ? { repo } : { repo, revision };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) {
    throw new ModelRegistryError(
      `"${trimmed}": only hf://models/<owner>/<name>[@<revision>] or a directory is supported`,
    );
  }
  return { dir: resolve(trimmed) };
}

export function hubModelLocation(repo: string, revision?: string): string {
  return `${HUB_MODEL_PREFIX}${repo}${revision === undefined ? '' : `@${revision}`}`;
}
