import { githubFile, listGithubFiles, validationErrors } from './github-files';
import { mutate } from './mutate';

const files = listGithubFiles();

describe('the workflow and action files', () => {
  it('are the CI, deploy, retrain and release workflows and their two local actions', () => {
    expect(files.map((file) => `${file.kind} ${file.path}`)).toEqual(
      expect.arrayContaining([
        'workflow .github/workflows/ci.yml',
        'workflow .github/workflows/deploy.yml',
        'workflow .github/workflows/retrain.yml',
        'workflow .github/workflows/release.yml',
        'action .github/actions/docker-apps/action.yml',
        'action .github/actions/shared-data/action.yml',
      ]),
    );
  });

  it.each(files.map((file) => [file.path, file] as const))(
    '%s validates with @action-validator/core',
    (_path, file) => {
      expect(validationErrors(file.kind, file.text)).toEqual([]);
    },
  );
});

describe('@action-validator/core rejects', () => {
  const ci = githubFile('.github/workflows/ci.yml').text;
  const dockerApps = githubFile('.github/actions/docker-apps/action.yml').text;

  it('a misspelt job key', () => {
    const errors = validationErrors(
      'workflow',
      mutate(
        ci,
        '    runs-on: ubuntu-latest\n    timeout-minutes: 45',
        '    run-on: ubuntu-latest\n    timeout-minutes: 45',
      ),
    );
    expect(errors.join('\n')).toMatch(/Additional property 'run-on' is not allowed/);
  });

  it('a step with both uses and run', () => {
    const errors = validationErrors(
      'workflow',
      mutate(
        ci,
        '      - uses: nrwl/nx-set-shas@3e9ad7370203c1e93d109be57f3b72eb0eb511b1 # v4.4.0\n      - name: Test data',
        '      - uses: nrwl/nx-set-shas@3e9ad7370203c1e93d109be57f3b72eb0eb511b1 # v4.4.0\n        run: echo\n      - name: Test data',
      ),
    );
    expect(errors).not.toEqual([]);
  });

  it('a workflow without jobs', () => {
    expect(validationErrors('workflow', 'name: CI\non: push\n')).not.toEqual([]);
  });

  it('YAML that does not parse, with its line', () => {
    const errors = validationErrors('workflow', mutate(ci, "ports: ['6379:6379']", "ports: ['6379:6379'"));
    expect(errors.join('\n')).toMatch(/Parse Error.*\(line \d+\)/);
  });

  it('a composite action step without a shell', () => {
    const errors = validationErrors('action', mutate(dockerApps, '      shell: bash\n', ''));
    expect(errors).not.toEqual([]);
  });
});
