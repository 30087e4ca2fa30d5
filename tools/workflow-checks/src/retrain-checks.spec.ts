import { githubFile } from './github-files';
import { mutate } from './mutate';
import { retrainProblems } from './retrain-checks';

const retrain = githubFile('.github/workflows/retrain.yml').text;

describe('retrain.yml', () => {
  it("keeps its promises: the drift monitor's event and snapshot, one run at a time, train, gate, publish only a passed candidate", () => {
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
    [
      "the drift monitor's snapshot ignored",
      'FROM_DRIFT: ${{ github.event.client_payload.datasetSnapshot }}',
      'FROM_DRIFT: ""',
      /client_payload\.datasetSnapshot/,
    ],
    ['no training', 'npm run retrain -- --base', 'npm run train -- --base', /npm run retrain/],
    [
      'a trainer without the golden set',
      '\\\n            --golden "$GOLDEN_SET" --seed',
      '\\\n            --seed',
      /gives the trainer --golden/,
    ],
    ['no gate', 'npm run gate -- --champion', 'npm run evaluate -- --champion', /npm run gate/],
    [
      'a gate against another model',
      'npm run gate -- --champion models/champion',
      'npm run gate -- --champion models/other',
      /--champion is the trainer's --base/,
    ],
    [
      'a gate on another candidate',
      '--candidate candidates/candidate \\\n            --golden',
      '--candidate candidates/other \\\n            --golden',
      /--candidate is the trainer's --out/,
    ],
    ['a failed gate taken for an error', 'elif [ "$code" = 3 ]', 'elif [ "$code" = 4 ]', /exit 3/],
    [
      'a report that is not uploaded',
      'path: reports/gate-report.json',
      'path: reports/other.json',
      /--out reports\/gate-report.json/,
    ],
    ['an upload skipped on failure', '        if: always()\n', '', /even when a step fails/],
    [
      'a publish that does not wait for the verdict',
      "if: steps.gate.outputs.verdict == 'pass' && vars.MODEL_REPO != ''",
      "if: vars.MODEL_REPO != ''",
      /only when the gate passed/,
    ],
    [
      'another report published',
      '--report reports/gate-report.json --repo',
      '--report reports/old.json --repo',
      /with its gate report/,
    ],
    [
      'event data spliced into a script',
      '              echo "$PAYLOAD"',
      "              echo '${{ toJSON(github.event.client_payload) }}'",
      /through env/,
    ],
  ])('fails with %s', (_case, from, to, problem) => {
    expect(retrainProblems(mutate(retrain, from, to)).join('\n')).toMatch(problem);
  });

  it('fails when package.json lacks a script it calls', () => {
    expect(retrainProblems(retrain, { 'model:pull': 'x', retrain: 'x', gate: 'x' }).join('\n')).toMatch(
      /npm scripts that package.json defines \(model:publish\)/,
    );
  });
});
