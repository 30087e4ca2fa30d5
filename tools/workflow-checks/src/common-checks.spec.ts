import { jobIfProblems, pinProblems, scriptSyntaxProblems } from './common-checks';
import { githubFile, listGithubFiles } from './github-files';
import { mutate } from './mutate';
import { affectedTargets } from './workflow-model';

const files = listGithubFiles();

describe('in every workflow and action', () => {
  it.each(files.map((file) => [file.path, file] as const))(
    '%s pins actions to a major version',
    (_path, file) => {
      expect(pinProblems(file)).toEqual([]);
    },
  );

  it.each(files.map((file) => [file.path, file] as const))(
    '%s reads no secrets in a job if',
    (_path, file) => {
      expect(jobIfProblems(file)).toEqual([]);
    },
  );

  it.each(files.map((file) => [file.path, file] as const))(
    '%s has bash scripts that parse',
    (_path, file) => {
      expect(scriptSyntaxProblems(file)).toEqual([]);
    },
  );

  it('a script with an unclosed if fails to parse', () => {
    const deploy = githubFile('.github/workflows/deploy.yml');
    const text = mutate(
      deploy.text,
      '            exit 1\n          fi\n      - name: Push the Space',
      '            exit 1\n      - name: Push the Space',
    );
    expect(scriptSyntaxProblems({ ...deploy, text })).toEqual([
      expect.stringMatching(
        /^\.github\/workflows\/deploy\.yml job huggingface-space step HF_TOKEN is set: .*syntax error/,
      ),
    ]);
  });

  const ci = githubFile('.github/workflows/ci.yml');
  it.each([
    ['a branch', 'actions/checkout@main'],
    ['a minor version', 'actions/checkout@v4.1'],
    ['no version', 'actions/checkout'],
  ])('a pin to %s fails', (_case, uses) => {
    const text = mutate(
      ci.text,
      '    steps:\n      - uses: actions/checkout@v4\n        with:\n          # nx',
      `    steps:\n      - uses: ${uses}\n        with:\n          # nx`,
    );
    expect(pinProblems({ ...ci, text })).toEqual([
      `${ci.path}: "${uses}" is not pinned to a major version (owner/repo@vN)`,
    ]);
  });

  it('a job if that reads a secret fails', () => {
    const deploy = githubFile('.github/workflows/deploy.yml');
    const text = mutate(deploy.text, "if: vars.DEPLOY_SSH_HOST != ''", "if: secrets.DEPLOY_SSH_KEY != ''");
    expect(jobIfProblems({ ...deploy, text })).toEqual([
      `${deploy.path}: job compose reads secrets in its if (use vars, or check the secret in a step)`,
    ]);
  });
});

describe('affectedTargets', () => {
  it('reads -t lists, --targets= lists and several commands', () => {
    expect(
      affectedTargets('npx nx affected -t lint typecheck --parallel=3\nnpx nx affected --targets=e2e,build'),
    ).toEqual([
      ['lint', 'typecheck'],
      ['e2e', 'build'],
    ]);
    expect(affectedTargets('npx nx run-many -t lint')).toEqual([]);
  });
});
