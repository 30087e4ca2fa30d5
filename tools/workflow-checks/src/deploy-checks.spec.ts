import { deployProblems } from './deploy-checks';
import { githubFile } from './github-files';
import { mutate } from './mutate';

const deploy = githubFile('.github/workflows/deploy.yml').text;

describe('deploy.yml', () => {
  it('keeps its promises: affected images to GHCR (sha + latest), a guarded Space deploy, one deploy at a time', () => {
    expect(deployProblems(deploy)).toEqual([]);
  });

  it.each([
    ['no workflow_dispatch', /\n {2}workflow_dispatch:\n(?: {4}.*\n)+/, '\n', /workflow_dispatch/],
    ['deploys from any branch', "    if: github.ref == 'refs/heads/main'\n", '', /main only/],
    ['overlapping deploys', 'cancel-in-progress: false', 'cancel-in-progress: true', /one deploy at a time/],
    ['no packages: write', '      packages: write\n', '', /packages: write/],
    [
      'no latest tag',
      '            ${{ needs.apps.outputs.image-base }}/${{ matrix.app }}:latest\n',
      '',
      /:latest/,
    ],
    [
      'an image name outside GHCR',
      'echo "base=ghcr.io/${GITHUB_REPOSITORY,,}"',
      'echo "base=docker.io/${GITHUB_REPOSITORY,,}"',
      /<commit sha>/,
    ],
    ['a shallow checkout', 'fetch-depth: 0', 'fetch-depth: 1', /full history/],
    [
      'a Space deploy guarded by a secret',
      "if: vars.HF_SPACE_ID != '' && ",
      "if: secrets.HF_TOKEN != '' && ",
      /configured/,
    ],
    [
      'a Space deploy of an image that was not pushed',
      " && contains(fromJSON(needs.apps.outputs.apps), 'gateway')",
      '',
      /new gateway image/,
    ],
    ['no check of the token', 'if [ -z "$HF_TOKEN" ]; then', 'if false; then', /HF_TOKEN is empty/],
  ])('fails with %s', (_case, from, to, problem) => {
    expect(deployProblems(mutate(deploy, from, to)).join('\n')).toMatch(problem);
  });
});
