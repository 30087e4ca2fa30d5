import { deployCallerProblems, deployProblems } from './deploy-checks';
import { type GithubFile, githubFile, listGithubFiles } from './github-files';
import { mutate } from './mutate';

const deploy = githubFile('.github/workflows/deploy.yml').text;
const files = listGithubFiles();
const ciPath = '.github/workflows/ci.yml';
const withCi = (from: string | RegExp, to: string): GithubFile[] =>
  files.map((file) => (file.path === ciPath ? { ...file, text: mutate(file.text, from, to) } : file));

describe('deploy.yml', () => {
  it('keeps its promises: no trigger of its own, images by commit sha only, every target on that commit', () => {
    expect(deployProblems(deploy)).toEqual([]);
  });

  it.each([
    [
      'a push trigger',
      'on:\n  workflow_call:\n',
      'on:\n  push:\n    branches: [main]\n  workflow_call:\n',
      /only workflow_call/,
    ],
    [
      'a workflow_run trigger instead of the call',
      /on:\n {2}workflow_call:\n/,
      'on:\n  workflow_run:\n    workflows: [CI]\n    types: [completed]\n  workflow_call:\n',
      /only workflow_call/,
    ],
    [
      'a latest tag beside the sha',
      '          tags: ${{ steps.image.outputs.base }}/${{ matrix.app }}:${{ github.sha }}\n',
      '          tags: |\n            ${{ steps.image.outputs.base }}/${{ matrix.app }}:${{ github.sha }}\n            ${{ steps.image.outputs.base }}/${{ matrix.app }}:latest\n',
      /never pushes or pulls a latest tag/,
    ],
    [
      'a moving tag instead of the sha',
      'tags: ${{ steps.image.outputs.base }}/${{ matrix.app }}:${{ github.sha }}\n',
      'tags: ${{ steps.image.outputs.base }}/${{ matrix.app }}:main\n',
      /pushes one tag, the commit CI tested/,
    ],
    [
      'another commit checked out',
      '        with:\n          persist-credentials: false\n',
      '        with:\n          ref: main\n          persist-credentials: false\n',
      /checks out the commit CI tested/,
    ],
    [
      'an image name outside GHCR',
      'echo "base=ghcr.io/${GITHUB_REPOSITORY,,}"',
      'echo "base=docker.io/${GITHUB_REPOSITORY,,}"',
      /pushes one tag/,
    ],
    ['no packages: write', '      packages: write\n', '', /packages: write/],
    ['no guard for an empty list', "    if: inputs.apps != '[]'\n", '', /no app/],
    [
      'a Space deploy guarded by a secret',
      "if: vars.HF_SPACE_ID != '' && ",
      "if: secrets.HF_TOKEN != '' && ",
      /configured/,
    ],
    [
      'a Space deploy of an image that was not pushed',
      " && contains(fromJSON(inputs.apps), 'all-in-one')",
      " && contains(fromJSON(inputs.apps), 'gateway')",
      /new all-in-one image/,
    ],
    [
      'a Space on a moving tag',
      'IMAGE: ${{ needs.images.outputs.image-base }}/all-in-one:${{ github.sha }}',
      'IMAGE: ${{ needs.images.outputs.image-base }}/all-in-one:main',
      /all-in-one image of the commit CI tested/,
    ],
    [
      'a Space of the gateway alone (it would need a Redis on the internet)',
      'IMAGE: ${{ needs.images.outputs.image-base }}/all-in-one:${{ github.sha }}',
      'IMAGE: ${{ needs.images.outputs.image-base }}/gateway:${{ github.sha }}',
      /all-in-one image of the commit CI tested/,
    ],
    [
      'a Space on another port than the image',
      '          app_port: 7860\n',
      '          app_port: 3000\n',
      /app_port: 7860/,
    ],
    [
      'a Space that is not a Docker Space',
      '          sdk: docker\n',
      '          sdk: gradio\n',
      /sdk: docker/,
    ],
    [
      'a Space without the model pin',
      ' MODEL_REVISION=${MODEL_REVISION} MODEL_SHA256=${MODEL_SHA256}',
      '',
      /writes MODEL_REVISION into the Space's Dockerfile/,
    ],
    [
      'a pin that is not checked',
      '$MODEL_SHA256 =~ ^[0-9a-f]{64}$ && ',
      '',
      /fails with a message when MODEL_SHA256 is not a pin/,
    ],
    [
      'a pin written into the workflow',
      'MODEL_REVISION: ${{ vars.HF_MODEL_REVISION }}',
      "MODEL_REVISION: 'main'",
      /takes MODEL_REVISION from a variable/,
    ],
    ['no check of the token', 'if [ -z "$HF_TOKEN" ]; then', 'if false; then', /HF_TOKEN is empty/],
    [
      'a compose host pulling the all-in-one image',
      `apps=$(jq -r 'map(select(. != "all-in-one")) | join(" ")' <<<"$APPS")`,
      `apps=$(jq -r 'join(" ")' <<<"$APPS")`,
      /leaves all-in-one/,
    ],
    [
      'a compose host pulling latest',
      'docker pull "$IMAGE_BASE/$app:$SHA"',
      'docker pull "$IMAGE_BASE/$app:latest"',
      /latest/,
    ],
  ])('fails with %s', (_case, from, to, problem) => {
    expect(deployProblems(mutate(deploy, from, to)).join('\n')).toMatch(problem);
  });
});

describe('the deploy job of ci.yml, the only way into deploy.yml', () => {
  it('calls it on main after the tests and the image builds passed, one deploy at a time', () => {
    expect(deployCallerProblems(files)).toEqual([]);
  });

  it.each([
    [
      'a deploy before the tests pass',
      'needs: [test, docker-apps, docker]',
      'needs: [docker-apps, docker]',
      /after the tests pass/,
    ],
    [
      'a deploy before the images build',
      'needs: [test, docker-apps, docker]',
      'needs: [test, docker-apps]',
      /after every image built/,
    ],
    [
      'a deploy from pull requests',
      "if: github.event_name != 'pull_request' && github.ref == 'refs/heads/main'",
      "if: github.ref == 'refs/heads/main'",
      /never for a pull request/,
    ],
    [
      'a deploy that runs whatever the tests did',
      "if: github.event_name != 'pull_request' && github.ref == 'refs/heads/main'",
      "if: always() && github.event_name != 'pull_request' && github.ref == 'refs/heads/main'",
      /failed or cancelled need/,
    ],
    [
      'overlapping deploys',
      'group: deploy-${{ github.repository }}\n      cancel-in-progress: false',
      'group: deploy-${{ github.repository }}\n      cancel-in-progress: true',
      /one deploy at a time/,
    ],
    [
      'apps that are not the docker-apps list',
      'apps: ${{ needs.docker-apps.outputs.apps }}',
      'apps: \'["gateway"]\'',
      /docker-apps job's list/,
    ],
    [
      'more rights than packages: write',
      '      contents: read\n      packages: write\n    uses:',
      '      contents: write\n      packages: write\n    uses:',
      /nothing else/,
    ],
    [
      'no manual deploy of every app',
      '          all: ${{ inputs.deploy-all == true }}\n',
      '',
      /lists every app when asked/,
    ],
  ])('fails with %s', (_case, from, to, problem) => {
    expect(deployCallerProblems(withCi(from, to)).join('\n')).toMatch(problem);
  });

  it('fails when another workflow calls deploy.yml too', () => {
    const retrain = files.find((file) => file.path === '.github/workflows/retrain.yml');
    if (!retrain) throw new Error('no retrain.yml');
    const text = `${retrain.text}\n  sneaky:\n    uses: ./.github/workflows/deploy.yml\n    with:\n      apps: '["gateway"]'\n`;
    const problems = deployCallerProblems(files.map((file) => (file === retrain ? { ...file, text } : file)));
    expect(problems.join('\n')).toMatch(/only caller of deploy\.yml.*retrain\.yml job sneaky/);
  });
});
