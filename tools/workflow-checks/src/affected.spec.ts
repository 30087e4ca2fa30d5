import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { affectedProjects } from './affected';
import { githubFile, WORKSPACE_ROOT } from './github-files';
import { mutate } from './mutate';
import { WorkspaceSandbox } from './sandbox';
import { runActionStep } from './step-script';

/**
 * Proves what `nx affected` picks for a change, on a throwaway clone of the workspace's last commit: each case
 * commits one change and asks Nx for the affected projects between that commit and its parent, of type app
 * (what the workflows ask for) and of every type. The expected sets are written out by hand from the imports
 * and implicit dependencies; they are not read from the project graph, so a change to the graph that moves
 * them fails here and has to be looked at.
 *
 * Nx gives the project named e2e the type e2e (not app), so `--type app` never lists it, although it depends
 * on both apps. Tools are libraries in the graph, so `--type app` is exactly the deployable apps; bench imports
 * the tokenizer (and through it the contracts), golden-eval and the app harness the contracts (the harness
 * writes golden sets with the label schema), local-stack the app harness (the admin key file of `npm start`), the
 * trainer the tokenizer and the stores, and the deployment and monitoring checks depend on the apps. The
 * all-in-one image (apps/all-in-one) is an app that depends on the gateway, the worker and model-pull.
 */
const CASES: { touch: string; apps: string[]; all: string[] }[] = [
  {
    touch: 'libs/contracts/src/labels.ts',
    apps: ['all-in-one', 'drift-monitor', 'gateway', 'inference-worker'],
    all: [
      'all-in-one',
      'app-harness',
      'bench',
      'contracts',
      'dataset-store',
      'deploy-checks',
      'drift-monitor',
      'drift-stats',
      'e2e',
      'gateway',
      'golden-eval',
      'http-edge',
      'inference-worker',
      'k8s-checks',
      'load-test',
      'local-stack',
      'model-admin',
      'model-pull',
      'model-registry',
      'model-runtime',
      'monitoring-checks',
      'observability',
      'prediction-store',
      'producer-client',
      'retrain',
      'tokenizer',
    ],
  },
  {
    // Every Redis connection is made by it: all four apps, the producer client, the model registry (its assignment
    // writes wait for a replica) and every tool that talks to Redis.
    touch: 'libs/redis-connection/src/settings.ts',
    apps: ['all-in-one', 'drift-monitor', 'gateway', 'inference-worker'],
    all: [
      'all-in-one',
      'app-harness',
      'bench',
      'config',
      'deploy-checks',
      'drift-monitor',
      'e2e',
      'gateway',
      'golden-eval',
      'http-edge',
      'inference-worker',
      'k8s-checks',
      'load-test',
      'local-stack',
      'model-admin',
      'model-pull',
      'model-registry',
      'monitoring-checks',
      'observability',
      'prediction-store',
      'producer-client',
      'redis-connection',
      'retrain',
    ],
  },
  {
    touch: 'libs/tokenizer/src/preprocess.ts',
    apps: ['all-in-one', 'inference-worker'],
    all: [
      'all-in-one',
      'bench',
      'deploy-checks',
      'e2e',
      'inference-worker',
      'k8s-checks',
      'monitoring-checks',
      'retrain',
      'tokenizer',
    ],
  },
  {
    // Tests and tools run the generator's CLI by path; their implicitDependencies put them in the graph. The
    // worker follows from model-runtime, whose tests generate their model with it.
    touch: 'tools/synthetic-model/src/roberta-graph.ts',
    apps: ['all-in-one', 'inference-worker'],
    all: [
      'all-in-one',
      'bench',
      'deploy-checks',
      'e2e',
      'inference-worker',
      'k8s-checks',
      'local-stack',
      'model-runtime',
      'monitoring-checks',
      'retrain',
      'synthetic-model',
    ],
  },
  {
    touch: 'apps/gateway/src/main.ts',
    apps: ['all-in-one', 'gateway'],
    all: ['all-in-one', 'deploy-checks', 'e2e', 'gateway', 'k8s-checks', 'monitoring-checks'],
  },
  {
    touch: 'apps/drift-monitor/src/main.ts',
    apps: ['drift-monitor'],
    all: ['deploy-checks', 'drift-monitor', 'e2e', 'k8s-checks', 'monitoring-checks'],
  },
  { touch: 'README.md', apps: [], all: [] },
];

const NX_TIMEOUT_MS = 60_000;
const appendLine = (line: string) => (current: string) => `${current}${line}\n`;

describe('nx affected on a throwaway clone of the workspace', () => {
  let sandbox: WorkspaceSandbox;
  const commits = new Map<string, string>();

  beforeAll(() => {
    sandbox = WorkspaceSandbox.clone();
    // A fixed Dockerfile layout for the matrix cases: the gateway has one, the other apps none. The all-in-one
    // project as the working tree has it, so the cases count it whether or not it is committed yet.
    sandbox.commit('workflow-checks: Dockerfile layout', {
      'apps/gateway/Dockerfile': 'FROM scratch\n',
      'apps/inference-worker/Dockerfile': null,
      'apps/drift-monitor/Dockerfile': null,
      'apps/all-in-one/project.json': readFileSync(
        join(WORKSPACE_ROOT, 'apps/all-in-one/project.json'),
        'utf8',
      ),
      'apps/all-in-one/Dockerfile': null,
    });
    for (const { touch } of CASES) {
      const comment = touch.endsWith('.md')
        ? '<!-- touched by workflow-checks -->'
        : '// touched by workflow-checks';
      commits.set(touch, sandbox.commit(`workflow-checks: touch ${touch}`, { [touch]: appendLine(comment) }));
    }
  }, NX_TIMEOUT_MS);

  afterAll(() => sandbox?.dispose());

  const between = (touch: string) => {
    const head = commits.get(touch);
    if (!head) throw new Error(`no commit for ${touch}`);
    return { base: `${head}~1`, head };
  };

  it('changes exactly one file per case', () => {
    for (const { touch } of CASES) {
      const { base, head } = between(touch);
      expect(sandbox.git('diff', '--name-only', base, head)).toBe(touch);
    }
  });

  it.each(CASES)(
    'touching $touch marks the apps $apps, and the projects $all',
    async ({ touch, apps, all }) => {
      const [appsFound, allFound] = await Promise.all([
        affectedProjects(sandbox.repoDir, { ...between(touch), type: 'app' }, sandbox.env),
        affectedProjects(sandbox.repoDir, between(touch), sandbox.env),
      ]);
      expect({ apps: appsFound, all: allFound }).toEqual({ apps, all });
    },
    NX_TIMEOUT_MS,
  );

  describe("the docker-apps action's script (the Docker image matrix), run in the clone", () => {
    const action = githubFile('.github/actions/docker-apps/action.yml').text;
    const matrix = (env: Record<string, string>, inputs?: Record<string, string>) => {
      const result = runActionStep(action, 'list', {
        cwd: sandbox.repoDir,
        env: { ...sandbox.env, ...env },
        inputs,
      });
      expect({ status: result.status, stderr: result.status === 0 ? '' : result.stderr }).toEqual({
        status: 0,
        stderr: '',
      });
      return JSON.parse(result.outputs.apps) as string[];
    };
    // nrwl/nx-set-shas passes the commits to compare as NX_BASE and NX_HEAD.
    const shas = (touch: string) => ({ NX_BASE: between(touch).base, NX_HEAD: between(touch).head });

    it(
      'keeps the affected apps that have a Dockerfile: a contracts change builds the gateway only',
      () => {
        expect(matrix(shas('libs/contracts/src/labels.ts'))).toEqual(['gateway']);
      },
      NX_TIMEOUT_MS,
    );

    it(
      'is empty when no affected app has a Dockerfile (a tokenizer change: inference-worker)',
      () => {
        expect(matrix(shas('libs/tokenizer/src/preprocess.ts'))).toEqual([]);
      },
      NX_TIMEOUT_MS,
    );

    it(
      'would hand the all-in-one image, the inference worker and the drift monitor (no Dockerfile here) to docker build without its filter',
      () => {
        const unfiltered = mutate(action, '.filter((app) => existsSync(`apps/${app}/Dockerfile`))', '');
        const result = runActionStep(unfiltered, 'list', {
          cwd: sandbox.repoDir,
          env: { ...sandbox.env, ...shas('libs/contracts/src/labels.ts') },
        });
        expect(JSON.parse(result.outputs.apps)).toEqual([
          'all-in-one',
          'drift-monitor',
          'gateway',
          'inference-worker',
        ]);
      },
      NX_TIMEOUT_MS,
    );

    it(
      'lists every app with a Dockerfile when asked for all',
      () => {
        expect(matrix(shas('README.md'), { all: 'true' })).toEqual(['gateway']);
      },
      NX_TIMEOUT_MS,
    );
  });
});
