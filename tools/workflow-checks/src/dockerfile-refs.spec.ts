import { appFolderProblems, dockerfileRefProblems, dockerfileRefs, isDeployableApp } from './dockerfile-refs';
import { type GithubFile, githubFile, listGithubFiles } from './github-files';
import { mutate } from './mutate';

const files = listGithubFiles();
const replaceIn = (path: string, from: string, to: string): GithubFile[] =>
  files.map((file) => (file.path === path ? { ...file, text: mutate(file.text, from, to) } : file));

describe('Dockerfile references', () => {
  it('are found in the jobs that build images and in the docker-apps action', () => {
    const refs = dockerfileRefs(files).map((ref) => `${ref.file} ${ref.job ?? '-'} ${ref.app}`);
    expect(refs).toEqual(
      expect.arrayContaining([
        '.github/workflows/ci.yml docker ${{ matrix.app }}',
        '.github/workflows/deploy.yml images ${{ matrix.app }}',
        '.github/actions/docker-apps/action.yml - ${app}',
      ]),
    );
  });

  it('all name an app that exists', () => {
    expect(dockerfileRefProblems(files)).toEqual([]);
  });

  it('knows the deployable apps: gateway and inference-worker, not the e2e tests or a made-up name', () => {
    expect(['gateway', 'inference-worker', 'e2e', 'frontend'].map((name) => isDeployableApp(name))).toEqual([
      true,
      true,
      false,
      false,
    ]);
  });

  it.each([
    [
      'an app that does not exist',
      'apps/frontend/Dockerfile',
      /frontend\/Dockerfile does not name a deployable app/,
    ],
    ['the e2e test project', 'apps/e2e/Dockerfile', /e2e\/Dockerfile does not name a deployable app/],
    ['an unchecked variable', 'apps/${{ inputs.app }}/Dockerfile', /cannot tell which app/],
  ])('fail for %s', (_case, file, problem) => {
    const mutated = replaceIn(
      '.github/workflows/ci.yml',
      'file: apps/${{ matrix.app }}/Dockerfile',
      `file: ${file}`,
    );
    expect(dockerfileRefProblems(mutated).join('\n')).toMatch(problem);
  });

  it('fail for a matrix that does not come from the docker-apps job', () => {
    const mutated = replaceIn(
      '.github/workflows/deploy.yml',
      '        app: ${{ fromJSON(inputs.apps) }}',
      '        app: [gateway, e2e]',
    );
    expect(dockerfileRefProblems(mutated)).toEqual([
      ".github/workflows/deploy.yml job images: apps/${{ matrix.app }}/Dockerfile: matrix.app does not come from the docker-apps job's output",
    ]);
  });

  it('fail for a reusable workflow whose caller passes a list that is not the docker-apps output', () => {
    const mutated = replaceIn(
      '.github/workflows/ci.yml',
      'apps: ${{ needs.docker-apps.outputs.apps }}',
      `apps: '["gateway","e2e"]'`,
    );
    expect(dockerfileRefProblems(mutated)).toEqual([
      ".github/workflows/deploy.yml job images: apps/${{ matrix.app }}/Dockerfile: matrix.app does not come from the docker-apps job's output",
    ]);
  });

  it('fail for a docker build -f of a made-up app in a run step', () => {
    const ci = githubFile('.github/workflows/ci.yml');
    const text = mutate(
      ci.text,
      '      - uses: docker/setup-buildx-action@8d2750c68a42422c14e847fe6c8ac0403b4cbd6f # v3.12.0\n',
      '      - uses: docker/setup-buildx-action@8d2750c68a42422c14e847fe6c8ac0403b4cbd6f # v3.12.0\n      - run: docker build -f apps/frontend/Dockerfile .\n',
    );
    expect(dockerfileRefProblems([{ ...ci, text }])).toEqual([
      '.github/workflows/ci.yml job docker: apps/frontend/Dockerfile does not name a deployable app (type:app)',
    ]);
  });

  it('assume projects under apps/ are named after their folder, which they are', () => {
    expect(appFolderProblems()).toEqual([]);
  });
});
