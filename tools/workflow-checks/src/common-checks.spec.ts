import {
  actionPins,
  jobIfProblems,
  pinConsistencyProblems,
  pinProblems,
  scriptSyntaxProblems,
} from './common-checks';
import { githubFile, listGithubFiles } from './github-files';
import { mutate } from './mutate';
import { affectedTargets } from './workflow-model';

const files = listGithubFiles();

describe('in every workflow and action', () => {
  it.each(files.map((file) => [file.path, file] as const))(
    '%s pins every action by full commit SHA with its version in a comment',
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
        /^\.github\/workflows\/deploy\.yml job huggingface-space step HF_TOKEN and the model pin are set: .*syntax error/,
      ),
    ]);
  });

  it('pin each action to one commit and one version across all of them', () => {
    expect(pinConsistencyProblems(files)).toEqual([]);
    const pins = files.flatMap(actionPins);
    expect(pins.map((pin) => pin.action)).toEqual(
      expect.arrayContaining(['actions/checkout', 'actions/setup-node', 'docker/build-push-action']),
    );
  });

  const ci = githubFile('.github/workflows/ci.yml');
  const checkout = 'actions/checkout@11d5960a326750d5838078e36cf38b85af677262';
  const firstCheckout = `    steps:\n      - uses: ${checkout} # v4.4.0\n        with:\n          # nx`;
  it.each([
    ['a major version tag', 'actions/checkout@v4'],
    ['a full version tag', 'actions/checkout@v4.2.2'],
    ['a branch', 'actions/checkout@main'],
    ['a short SHA', 'actions/checkout@11d5960'],
    ['no version', 'actions/checkout'],
  ])('a pin to %s fails', (_case, uses) => {
    const text = mutate(
      ci.text,
      firstCheckout,
      `    steps:\n      - uses: ${uses}\n        with:\n          # nx`,
    );
    expect(pinProblems({ ...ci, text })).toEqual([
      `${ci.path}: "${uses}" is not pinned by a full commit SHA (owner/repo@<40 hex> # vX.Y.Z)`,
    ]);
  });

  it.each([
    ['no comment', ''],
    ['a comment that is no version', ' # latest'],
  ])('a SHA pin with %s fails', (_case, comment) => {
    const text = mutate(
      ci.text,
      firstCheckout,
      `    steps:\n      - uses: ${checkout}${comment}\n        with:\n          # nx`,
    );
    expect(pinProblems({ ...ci, text })).toEqual([
      expect.stringMatching(
        /^\.github\/workflows\/ci\.yml line \d+: "actions\/checkout@[0-9a-f]{40}" has no version comment/,
      ),
    ]);
  });

  it('an action pinned to another commit in one file fails', () => {
    const other = `actions/checkout@${'a'.repeat(40)} # v4.3.0`;
    const text = mutate(
      ci.text,
      firstCheckout,
      `    steps:\n      - uses: ${other}\n        with:\n          # nx`,
    );
    expect(pinProblems({ ...ci, text })).toEqual([]);
    const mixed = files.map((file) => (file.path === ci.path ? { ...file, text } : file));
    expect(pinConsistencyProblems(mixed)).toEqual([
      expect.stringMatching(/^actions\/checkout is pinned differently: /),
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
