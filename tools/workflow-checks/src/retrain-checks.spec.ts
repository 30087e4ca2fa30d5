import { githubFile } from './github-files';
import { mutate } from './mutate';
import { retrainProblems } from './retrain-checks';

const retrain = githubFile('.github/workflows/retrain.yml').text;

describe('retrain.yml', () => {
  it("keeps its promises: the drift monitor's event, one run at a time, a golden-set evaluation, its report uploaded", () => {
    expect(retrainProblems(retrain)).toEqual([]);
  });

  it.each([
    [
      'another event type',
      'types: [retrain-model]',
      'types: [retrain]',
      /repository_dispatch of type retrain-model/,
    ],
    ['no workflow_dispatch', /\n {2}workflow_dispatch:\n(?: {4,}.*\n)+/, '\n', /workflow_dispatch/],
    [
      'runs cancelling each other',
      'cancel-in-progress: false',
      'cancel-in-progress: true',
      /one retraining at a time/,
    ],
    ['no Redis', 'image: redis:7-alpine', 'image: postgres:16', /Redis service/],
    ['no evaluation', 'npm run eval:golden -- \\', 'npm run eval -- \\', /eval:golden/],
    [
      'a report that is not uploaded',
      'path: reports/golden-eval.json',
      'path: reports/other.json',
      /--out reports\/golden-eval.json/,
    ],
    ['an upload skipped on failure', '        if: always()\n', '', /even when the evaluation fails/],
    [
      'event data spliced into a script',
      '              echo "$PAYLOAD"',
      "              echo '${{ toJSON(github.event.client_payload) }}'",
      /through env/,
    ],
  ])('fails with %s', (_case, from, to, problem) => {
    expect(retrainProblems(mutate(retrain, from, to)).join('\n')).toMatch(problem);
  });

  it('fails when no comment says the training step is a later issue', () => {
    const silent = mutate(
      mutate(retrain, 'The training step itself', 'Training'),
      /\n {6}# The training step is a later issue:.*\n.*\n/,
      '\n',
    );
    expect(retrainProblems(silent).join('\n')).toMatch(/later issue/);
  });

  it('fails when package.json has no eval:golden script', () => {
    expect(retrainProblems(retrain, { test: 'bash tools/test.sh' }).join('\n')).toMatch(
      /npm script that package.json defines/,
    );
  });
});
