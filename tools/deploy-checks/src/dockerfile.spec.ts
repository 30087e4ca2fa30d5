import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEPLOYABLE_APPS, DeployableApp } from './apps';
import { baseImages, checkDockerfile, checkNodeEngine, checkSameBaseImage } from './dockerfile';
import { defaultText } from './env-schema';
import { appSchemas, mutate, schemaOf } from './fixtures';
import { WORKSPACE_ROOT } from './workspace';

// Reads (building first if needed) the apps' env schemas once, under the hook's long timeout.
beforeAll(() => {
  appSchemas();
});

const text = (app: DeployableApp) => readFileSync(join(WORKSPACE_ROOT, app.dockerfile), 'utf8');
/** The build stage's base image, tag and digest. */
const buildFrom = /node:[^\s@]+@sha256:[0-9a-f]{64} AS build/;

describe.each(DEPLOYABLE_APPS.map((app) => [app.project, app] as const))('%s Dockerfile', (_, app) => {
  const check = (dockerfile: string) => checkDockerfile(dockerfile, app, schemaOf(app.project));
  const original = () => text(app);
  const runtimeFrom = /FROM node:[^\n]* AS runtime/;

  it('passes every check', () => {
    expect(check(original())).toEqual([]);
  });

  it("uses a Node that satisfies package.json's engines, and catches one that does not", () => {
    const engine = (
      JSON.parse(readFileSync(join(WORKSPACE_ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }
    ).engines.node;
    expect(checkNodeEngine(original(), app.dockerfile, engine)).toEqual([]);
    const old = mutate(original(), buildFrom, 'node:20.18.3-bookworm-slim AS build');
    expect(checkNodeEngine(old, app.dockerfile, '>=20.19')).toEqual([
      `${app.dockerfile}: node:20.18.3-bookworm-slim does not satisfy engines.node >=20.19`,
    ]);
    expect(checkNodeEngine(original(), app.dockerfile, '>=22')).toHaveLength(2);
  });

  it('catches a single-stage file', () => {
    const single = original().slice(0, original().search(runtimeFrom));
    expect(check(single)).toContainEqual(`${app.dockerfile} is not multi-stage (1 FROM)`);
  });

  it('starts from a Node image pinned by tag and digest', () => {
    expect(baseImages(original())).toEqual([
      expect.stringMatching(/^node:20\.\d+\.\d+-bookworm-slim@sha256:[0-9a-f]{64}$/),
      expect.stringMatching(/^node:20\.\d+\.\d+-bookworm-slim@sha256:[0-9a-f]{64}$/),
    ]);
  });

  const digest = `sha256:${'0'.repeat(64)}`;
  it.each([
    ['node:20.19.5-bookworm-slim', 'is not pinned by digest'],
    [`node:20-bookworm-slim@${digest}`, 'is not pinned to an exact version'],
    ['node:20.19-bookworm-slim', 'is not pinned to an exact version'],
    ['node:latest', 'uses "latest"'],
    ['node', 'has no tag'],
    [`node@${digest}`, 'has a digest but no tag'],
    ['node:20.19.5-bookworm-slim@sha256:abc', 'malformed digest'],
  ])('catches an unpinned base image (%s)', (image, message) => {
    expect(check(mutate(original(), buildFrom, `${image} AS build`))).toEqual([
      expect.stringContaining(message),
    ]);
  });

  it('catches sources copied before npm ci', () => {
    const early = mutate(
      mutate(original(), 'COPY . .\n', ''),
      'COPY package.json',
      'COPY . .\nCOPY package.json',
    );
    expect(check(early)).toEqual([expect.stringContaining('copies sources before the manifests and npm ci')]);
  });

  it('catches npm install and a missing ONNXRUNTIME_NODE_INSTALL=skip', () => {
    expect(check(mutate(original(), 'RUN npm ci --no-audit', 'RUN npm install --no-audit'))).toEqual([
      expect.stringContaining('runs "npm install"'),
      expect.stringContaining('does not run npm ci'),
    ]);
    const noSkip = mutate(
      original(),
      /ONNXRUNTIME_NODE_INSTALL=skip(?=\n# Manifests)/,
      'ONNXRUNTIME_NODE_INSTALL=cuda12',
    );
    expect(check(noSkip)).toEqual([expect.stringContaining('npm ci without ONNXRUNTIME_NODE_INSTALL=skip')]);
  });

  it('catches a build of another app, or a runtime that ships another app or devDependencies', () => {
    const other = app.project === 'gateway' ? 'inference-worker' : 'gateway';
    expect(check(mutate(original(), `nx build ${app.project}`, `nx build ${other}`))).toEqual([
      `${app.dockerfile}: no stage runs "nx build ${app.project}"`,
    ]);
    expect(
      check(mutate(original(), `/repo/dist/apps/${app.project}/ ./`, `/repo/dist/apps/${other}/ ./`)),
    ).toEqual([
      expect.stringContaining(`copies /repo/dist/apps/${other}/, outside dist/apps/${app.project}`),
      expect.stringContaining(`does not copy dist/apps/${app.project}/ from the build stage`),
    ]);
    expect(check(mutate(original(), 'npm ci --omit=dev', 'npm ci'))).toEqual([
      expect.stringContaining('does not install production dependencies with "npm ci --omit=dev"'),
    ]);
  });

  it('catches root, no healthcheck, a healthcheck on the wrong path or with curl', () => {
    expect(check(mutate(original(), 'USER node', 'USER root'))).toEqual([
      expect.stringContaining('runs as root'),
    ]);
    expect(check(mutate(original(), 'USER node\n', ''))).toEqual([expect.stringContaining('no USER')]);
    expect(check(mutate(original(), /HEALTHCHECK [^\n]*\\\n[^\n]*\n/, ''))).toEqual([
      expect.stringContaining('no HEALTHCHECK'),
    ]);
    expect(check(mutate(original(), "'/health/live'", "'/health'"))).toEqual([
      expect.stringContaining('does not request /health/live'),
    ]);
    expect(
      check(
        mutate(
          original(),
          /CMD \["node", "-e".*\n/,
          'CMD curl -f http://127.0.0.1:3000/health/live || exit 1\n',
        ),
      ),
    ).toContainEqual(expect.stringContaining('uses curl/wget'));
  });

  it("catches a port that is not the app's", () => {
    const port = defaultText(schemaOf(app.project), app.portVariable);
    expect(check(mutate(original(), `EXPOSE ${port}`, 'EXPOSE 8080'))).toEqual([
      expect.stringContaining(`EXPOSE 8080, but ${app.portVariable} defaults to ${port}`),
    ]);
    expect(
      check(mutate(original(), `process.env.${app.portVariable} ||`, 'process.env.LISTEN_PORT ||')),
    ).toEqual([expect.stringContaining(`reads LISTEN_PORT, not ${app.portVariable}`)]);
  });

  it('catches a baked-in model, a variable the app does not read, and a shell-form CMD', () => {
    expect(check(mutate(original(), 'USER node', 'COPY models/ /models/\nUSER node'))).toEqual([
      expect.stringContaining('copies models/ (models are mounted, not baked in)'),
    ]);
    expect(
      check(mutate(original(), 'ENV NODE_ENV=production', 'ENV MODEL_PATH=/models NODE_ENV=production')),
    ).toEqual([expect.stringContaining('ENV MODEL_PATH is not a variable')]);
    expect(check(mutate(original(), 'CMD ["node", "main.js"]', 'CMD node main.js'))).toEqual([
      expect.stringContaining('CMD is not ["node", "main.js"]'),
    ]);
  });
});

describe('the Dockerfiles together', () => {
  const all = () => Object.fromEntries(DEPLOYABLE_APPS.map((app) => [app.dockerfile, text(app)]));

  it('start from one and the same base image, so one update moves them all', () => {
    expect(checkSameBaseImage(all())).toEqual([]);
  });

  it('catch one app left on another digest', () => {
    const files = all();
    const [first] = DEPLOYABLE_APPS;
    files[first.dockerfile] = mutate(
      files[first.dockerfile],
      /@sha256:[0-9a-f]{64} AS runtime/,
      `@sha256:${'1'.repeat(64)} AS runtime`,
    );
    expect(checkSameBaseImage(files)).toEqual([
      expect.stringMatching(/^the Dockerfiles start from different base images: /),
    ]);
  });
});
