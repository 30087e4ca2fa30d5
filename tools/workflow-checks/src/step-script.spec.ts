import { parseGithubOutput, runActionStep } from './step-script';

describe('parseGithubOutput', () => {
  it('reads name=value lines and name<<DELIMITER blocks', () => {
    expect(parseGithubOutput('apps=["gateway"]\nnotes<<EOF\nline 1\nline=2\nEOF\nempty=\n')).toEqual({
      apps: '["gateway"]',
      notes: 'line 1\nline=2',
      empty: '',
    });
  });
});

describe('runActionStep', () => {
  const action = (run: string, env = '        WHO: ${{ inputs.who }}') =>
    [
      'name: t',
      'description: t',
      'inputs:',
      '  who:',
      '    description: t',
      "    default: 'world'",
      'runs:',
      '  using: composite',
      '  steps:',
      '    - id: say',
      '      shell: bash',
      '      env:',
      env,
      '      run: |',
      ...run.split('\n').map((line) => `        ${line}`),
    ].join('\n');

  it('runs the script with the inputs in env and collects its outputs', () => {
    const result = runActionStep(action('echo "greeting=hello $WHO" >> "$GITHUB_OUTPUT"'), 'say', {
      cwd: process.cwd(),
      env: process.env,
    });
    expect(result.outputs).toEqual({ greeting: 'hello world' });
    expect(
      runActionStep(action('echo "greeting=hi $WHO" >> "$GITHUB_OUTPUT"'), 'say', {
        cwd: process.cwd(),
        env: process.env,
        inputs: { who: 'nx' },
      }).outputs,
    ).toEqual({ greeting: 'hi nx' });
  });

  it('fails like a runner: -e and pipefail', () => {
    expect(
      runActionStep(action('false | true\necho "after=yes" >> "$GITHUB_OUTPUT"'), 'say', {
        cwd: process.cwd(),
        env: process.env,
      }),
    ).toMatchObject({ status: 1, outputs: {} });
  });

  it('refuses expressions it cannot evaluate', () => {
    expect(() =>
      runActionStep(action('echo ${{ github.sha }}'), 'say', { cwd: process.cwd(), env: process.env }),
    ).toThrow(/expression/);
    expect(() =>
      runActionStep(action('echo', '        SHA: ${{ github.sha }}'), 'say', {
        cwd: process.cwd(),
        env: process.env,
      }),
    ).toThrow(/cannot be evaluated/);
  });
});
