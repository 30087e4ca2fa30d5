import { githubFile } from './github-files';
import { mutate } from './mutate';
import { releaseProblems } from './release-checks';

const release = githubFile('.github/workflows/release.yml').text;

describe('release.yml', () => {
  it('keeps its promises: dry runs on pull requests, a real release only by hand on main, tested and built first', () => {
    expect(releaseProblems(release)).toEqual([]);
  });

  it.each([
    ['a push trigger', 'on:\n  pull_request:', 'on:\n  push:\n  pull_request:', /nothing else/],
    ['a release from any branch', " && github.ref == 'refs/heads/main'", '', /only when run by hand on main/],
    [
      'a dry run that publishes',
      'npx nx release publish --dry-run --registry "$REGISTRY"',
      'npx nx release publish --registry "$REGISTRY"',
      /one job that releases for real \(found 2\)/,
    ],
    [
      'write rights at the workflow level',
      'permissions:\n  contents: read\n',
      'permissions:\n  contents: write\n',
      /read-only/,
    ],
    [
      'no build before the publish',
      '      - name: Build the packages\n        run: npx nx run-many -t build -p contracts redis-connection producer-client\n      - name: Publish (dry run)',
      '      - name: Publish (dry run)',
      /job dry-run builds the packages after versioning and before publishing/,
    ],
    [
      'a package left untested',
      '      - name: Test the packages\n        run: npx nx run-many -t lint typecheck test -p contracts redis-connection producer-client\n      - name: Version, changelogs',
      '      - name: Version, changelogs',
      /job publish tests contracts before releasing it/,
    ],
  ])('fails with %s', (_case, from, to, expected) => {
    expect(releaseProblems(mutate(release, from, to)).join('\n')).toMatch(expected);
  });

  it('names the projects nx.json releases', () => {
    expect(releaseProblems(release, ['contracts', 'gateway']).join('\n')).toMatch(
      /tests gateway before releasing it/,
    );
  });
});
