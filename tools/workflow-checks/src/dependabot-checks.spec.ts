import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEPENDABOT_FILE, dependabotProblems, dockerfileDirs } from './dependabot-checks';
import { WORKSPACE_ROOT } from './github-files';
import { mutate } from './mutate';

const text = readFileSync(join(WORKSPACE_ROOT, DEPENDABOT_FILE), 'utf8');

describe('.github/dependabot.yml', () => {
  it('updates npm, the actions, every Dockerfile and the compose images, weekly and grouped', () => {
    expect(dockerfileDirs()).toEqual([
      '/apps/all-in-one',
      '/apps/drift-monitor',
      '/apps/gateway',
      '/apps/inference-worker',
    ]);
    expect(dependabotProblems(text)).toEqual([]);
  });

  it.each([
    [
      'a Dockerfile left out',
      '      - /apps/drift-monitor\n',
      '',
      /docker in \/apps\/drift-monitor once \(found 0\)/,
    ],
    [
      'the local actions left out',
      '      - /.github/actions/*\n',
      '',
      /github-actions in \/\.github\/actions\/docker-apps once/,
    ],
    [
      'no compose images',
      'package-ecosystem: docker-compose',
      'package-ecosystem: pip',
      /docker-compose in \/ once/,
    ],
    [
      'a monthly schedule',
      'interval: weekly\n      day: monday\n    open-pull-requests-limit',
      'interval: monthly\n      day: monday\n    open-pull-requests-limit',
      /npm in \/: runs weekly/,
    ],
  ])('fails with %s', (_case, from, to, problem) => {
    expect(dependabotProblems(mutate(text, from, to)).join('\n')).toMatch(problem);
  });
});
