import { ciProblems, dockerAppsActionProblems } from './ci-checks';
import { githubFile } from './github-files';
import { mutate } from './mutate';

const ci = githubFile('.github/workflows/ci.yml').text;
const dockerApps = githubFile('.github/actions/docker-apps/action.yml').text;

describe('ci.yml', () => {
  it('keeps its promises: full history, nx-set-shas, the affected targets, the docker-apps matrix', () => {
    expect(ciProblems(ci)).toEqual([]);
  });

  it.each([
    [
      'a shallow checkout',
      'the history.\n          fetch-depth: 0',
      'the history.\n          fetch-depth: 1',
      /full history/,
    ],
    [
      'no nx-set-shas before the affected targets',
      '      - uses: nrwl/nx-set-shas@3e9ad7370203c1e93d109be57f3b72eb0eb511b1 # v4.4.0\n      - name: Test data',
      '      - name: Test data',
      /nx-set-shas/,
    ],
    [
      'run-many instead of affected',
      'npx nx affected -t lint typecheck test integration build',
      'npx nx run-many -t lint typecheck test integration build',
      /runs nx affected -t lint typecheck test integration build/,
    ],
    [
      'a target left out',
      'npx nx affected -t lint typecheck test integration build',
      'npx nx affected -t lint typecheck test build',
      /runs nx affected -t lint typecheck test integration build/,
    ],
    ['no e2e tier', '      - run: npx nx affected -t e2e\n', '', /nx affected -t e2e/],
    ['no formatting check', '      - run: npx prettier --check .\n', '', /prettier/],
    ['no Redis health check', '--health-cmd "redis-cli ping" ', '', /health check/],
    ['the daemon left on', "NX_DAEMON: 'false'", "NX_DAEMON: 'true'", /NX_DAEMON=false/],
    [
      'a matrix not from the docker-apps job',
      '        app: ${{ fromJSON(needs.docker-apps.outputs.apps) }}',
      '        app: [gateway, inference-worker, e2e]',
      /matrix/,
    ],
    ['no guard for an empty matrix', "    if: needs.docker-apps.outputs.apps != '[]'\n", '', /empty/],
    ['images pushed', '          push: false', '          push: true', /does not push/],
    [
      'images built before the tests pass',
      '    needs: [test, docker-apps]',
      '    needs: [docker-apps]',
      /after the tests pass/,
    ],
  ])('fails with %s', (_case, from, to, problem) => {
    const problems = ciProblems(mutate(ci, from, to));
    expect(problems.join('\n')).toMatch(problem);
  });
});

describe('the docker-apps action', () => {
  it('lists `nx show projects --affected --type app` kept to the apps with a Dockerfile', () => {
    expect(dockerAppsActionProblems(dockerApps)).toEqual([]);
  });

  it.each([
    [
      'all projects instead of apps',
      'npx nx show projects --affected --type app --json',
      'npx nx show projects --affected --json',
      /affected apps/,
    ],
    ['no Dockerfile filter', '.filter((app) => existsSync(`apps/${app}/Dockerfile`))', '', /Dockerfile/],
  ])('fails with %s', (_case, from, to, problem) => {
    expect(dockerAppsActionProblems(mutate(dockerApps, from, to)).join('\n')).toMatch(problem);
  });
});
