import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { problemList } from './common-checks';
import { WORKSPACE_ROOT, parseYaml } from './github-files';

export const DEPENDABOT_FILE = '.github/dependabot.yml';

interface Update {
  'package-ecosystem'?: string;
  directory?: string;
  directories?: string[];
  schedule?: { interval?: string };
  groups?: Record<string, { patterns?: string[] }>;
}

/** The folders (`/apps/<app>`) whose Dockerfile builds an app image. */
export function dockerfileDirs(root = WORKSPACE_ROOT): string[] {
  const apps = join(root, 'apps');
  return readdirSync(apps)
    .filter((dir) => existsSync(join(apps, dir, 'Dockerfile')))
    .map((dir) => `/apps/${dir}`)
    .sort();
}

/** The local composite actions (`/.github/actions/<name>`). */
function actionDirs(root: string): string[] {
  const actions = join(root, '.github/actions');
  return existsSync(actions) ? readdirSync(actions).map((dir) => `/.github/actions/${dir}`) : [];
}

/** Whether a `directories` entry (Dependabot's globs: `*` within one folder) covers `dir`. */
const covers = (pattern: string, dir: string) =>
  new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]+')}$`).test(dir);

/**
 * Dependabot keeps every pin current, weekly, in grouped pull requests: npm (the lockfile), the GitHub Actions
 * of the workflows and of every local action (their SHA pins and version comments), the base image of every
 * Dockerfile, and the images of docker-compose.yml.
 */
export function dependabotProblems(text: string, root = WORKSPACE_ROOT): string[] {
  const { problems, check } = problemList(DEPENDABOT_FILE);
  const config = parseYaml(text) as { version?: number; updates?: Update[] } | null;
  check(config?.version === 2, 'is version 2');
  const updates = config?.updates ?? [];
  const dirsOf = (update: Update) => [
    ...(update.directory ? [update.directory] : []),
    ...(update.directories ?? []),
  ];
  const covering = (ecosystem: string, dir: string) =>
    updates.filter(
      (update) =>
        update['package-ecosystem'] === ecosystem && dirsOf(update).some((pattern) => covers(pattern, dir)),
    );
  const want: [string, string][] = [
    ['npm', '/'],
    ['github-actions', '/'],
    ...actionDirs(root).map((dir): [string, string] => ['github-actions', dir]),
    ...dockerfileDirs(root).map((dir): [string, string] => ['docker', dir]),
    ['docker-compose', '/'],
  ];
  for (const [ecosystem, dir] of want) {
    const found = covering(ecosystem, dir);
    check(found.length === 1, `updates ${ecosystem} in ${dir} once (found ${found.length})`);
  }
  for (const update of updates) {
    const what = `${update['package-ecosystem']} in ${dirsOf(update).join(', ')}`;
    check(update.schedule?.interval === 'weekly', `${what}: runs weekly`);
    check(Object.keys(update.groups ?? {}).length > 0, `${what}: groups its updates`);
  }
  return problems;
}
