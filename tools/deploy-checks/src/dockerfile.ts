import { Copy, DockerfileParser, Env, From, Instruction, JSONInstruction } from 'dockerfile-ast';
import { DeployableApp } from './apps';
import { defaultText, EnvSchema } from './env-schema';
import { digestPinProblem } from './images';

export interface Stage {
  name: string | undefined;
  from: From;
  instructions: Instruction[];
}

/** Runtime variables the image may set besides the app's own. */
export const RUNTIME_ENV = new Set(['NODE_ENV', 'NODE_OPTIONS', 'ONNXRUNTIME_NODE_INSTALL']);
/** Files `npm ci` needs; copying anything else before it busts the dependency layer on every change. */
const MANIFESTS = new Set(['package.json', 'package-lock.json', '.npmrc']);

export function stagesOf(text: string): Stage[] {
  const stages: Stage[] = [];
  for (const instruction of DockerfileParser.parse(text).getInstructions()) {
    if (instruction instanceof From) {
      stages.push({ name: instruction.getBuildStage() ?? undefined, from: instruction, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return stages;
}

export function keyword(instruction: Instruction): string {
  return instruction.getKeyword().toUpperCase();
}

export function argumentValues(instruction: Instruction): string[] {
  return instruction.getArguments().map((argument) => argument.getValue());
}

export function copyFrom(instruction: Instruction): string | undefined {
  return instruction instanceof Copy ? (instruction.getFromFlag()?.getValue() ?? undefined) : undefined;
}

/** A COPY's or ADD's sources (every argument but the destination). */
export function copySources(instruction: Instruction): string[] {
  const json = instruction instanceof JSONInstruction ? instruction.getJSONStrings() : [];
  const values = json.length > 0 ? json.map((arg) => arg.getJSONValue()) : argumentValues(instruction);
  return values.slice(0, -1);
}

export function runText(instruction: Instruction): string {
  return instruction.getRawArgumentsContent() ?? '';
}

export function envOf(stage: Stage, before = stage.instructions.length): Map<string, string> {
  const env = new Map<string, string>();
  for (const instruction of stage.instructions.slice(0, before)) {
    if (instruction instanceof Env) {
      for (const property of instruction.getProperties())
        env.set(property.getName(), property.getValue() ?? '');
    }
  }
  return env;
}

export const NPM_CI = /\bnpm\s+ci\b/;
const NPM_INSTALL = /\bnpm\s+(install|i|add)\b/;

/** Where a problem is: the Dockerfile and the stage's name (or index). */
export type StageLabel = (stage: Stage) => string;

/**
 * What every stage of every image must do: start from an image pinned by tag and digest (or an earlier stage),
 * copy no model, install with npm ci (never npm install) and without onnxruntime-node's CUDA download.
 */
export function stageProblems(stages: Stage[], at: StageLabel): string[] {
  const problems: string[] = [];
  const stageNames = new Set(stages.map((stage) => stage.name).filter(Boolean));
  for (const stage of stages) {
    const image = stage.from.getImage() ?? '';
    if (!stageNames.has(image)) {
      const problem = digestPinProblem(image);
      if (problem) problems.push(`${at(stage)}: ${problem}`);
    }
    for (const [index, instruction] of stage.instructions.entries()) {
      const kind = keyword(instruction);
      if ((kind === 'COPY' || kind === 'ADD') && !copyFrom(instruction)) {
        const models = copySources(instruction).filter((source) => /(^|\/)models(\/|$)/.test(source));
        if (models.length > 0)
          problems.push(`${at(stage)}: copies ${models.join(', ')} (models are mounted, not baked in)`);
      }
      if (kind !== 'RUN') continue;
      const run = runText(instruction);
      if (NPM_INSTALL.test(run))
        problems.push(`${at(stage)}: runs "npm install"; use "npm ci" (the lockfile, exactly)`);
      if (NPM_CI.test(run)) {
        const parent = stages.find((s) => s.name === image);
        const inherited = parent ? envOf(parent) : new Map<string, string>();
        const env = new Map([...inherited, ...envOf(stage, index)]);
        if (env.get('ONNXRUNTIME_NODE_INSTALL') !== 'skip' && !/ONNXRUNTIME_NODE_INSTALL=skip\s/.test(run)) {
          problems.push(
            `${at(stage)}: npm ci without ONNXRUNTIME_NODE_INSTALL=skip (it would download CUDA files)`,
          );
        }
      }
    }
  }
  return problems;
}

const nxBuildOf = (project: string) =>
  new RegExp(`\\bnx\\s+(build\\s+${project}|run\\s+${project}:build)\\b`);

/** The stage that runs `nx build <project>`. */
export function findBuildStage(stages: Stage[], project: string): Stage | undefined {
  const buildRun = nxBuildOf(project);
  return stages.find((stage) =>
    stage.instructions.some((i) => keyword(i) === 'RUN' && buildRun.test(runText(i))),
  );
}

/** The build stage: manifests, npm ci, sources, then the project's Nx build without the daemon. */
export function buildStageProblems(
  build: Stage | undefined,
  dockerfile: string,
  project: string,
  at: StageLabel,
): string[] {
  if (!build) return [`${dockerfile}: no stage runs "nx build ${project}"`];
  const problems: string[] = [];
  const buildRun = nxBuildOf(project);
  const list = build.instructions;
  const manifests = list.findIndex(
    (i) =>
      keyword(i) === 'COPY' &&
      !copyFrom(i) &&
      ['package.json', 'package-lock.json'].every((file) => copySources(i).includes(file)),
  );
  const install = list.findIndex((i) => keyword(i) === 'RUN' && NPM_CI.test(runText(i)));
  const sources = list.findIndex(
    (i) =>
      (keyword(i) === 'COPY' || keyword(i) === 'ADD') &&
      !copyFrom(i) &&
      copySources(i).some((s) => !MANIFESTS.has(s)),
  );
  const nxBuild = list.findIndex((i) => keyword(i) === 'RUN' && buildRun.test(runText(i)));
  if (manifests < 0)
    problems.push(`${at(build)}: does not copy package.json and package-lock.json on their own`);
  if (install < 0) problems.push(`${at(build)}: does not run npm ci`);
  if (sources >= 0 && (manifests < 0 || sources < manifests || (install >= 0 && sources < install))) {
    problems.push(
      `${at(build)}: copies sources before the manifests and npm ci (every change would reinstall)`,
    );
  }
  if (install > nxBuild) problems.push(`${at(build)}: builds before npm ci`);
  const buildEnv = envOf(build, nxBuild);
  if (buildEnv.get('NX_DAEMON') !== 'false' && !/NX_DAEMON=false\s/.test(runText(list[nxBuild]))) {
    problems.push(`${at(build)}: the Nx build runs without NX_DAEMON=false`);
  }
  return problems;
}

/**
 * One app's Dockerfile: a build stage on a Node image pinned by tag and digest that installs from the lockfile before copying
 * the sources and builds this app with Nx; a runtime stage that installs the app's production dependencies
 * from the generated manifest, runs as a non-root user, checks /health/live and exposes the app's port.
 */
export function checkDockerfile(text: string, app: DeployableApp, schema: EnvSchema): string[] {
  const problems: string[] = [];
  let stages: Stage[];
  try {
    stages = stagesOf(text);
  } catch (error) {
    return [`${app.dockerfile} does not parse: ${(error as Error).message}`];
  }
  const at = (stage: Stage) => `${app.dockerfile} stage ${stage.name ?? stages.indexOf(stage)}`;
  if (stages.length < 2) problems.push(`${app.dockerfile} is not multi-stage (${stages.length} FROM)`);
  if (stages.length === 0) return problems;
  problems.push(...stageProblems(stages, at));

  const build = findBuildStage(stages, app.project);
  problems.push(...buildStageProblems(build, app.dockerfile, app.project, at));

  // The runtime stage: the last one.
  const runtime = stages[stages.length - 1];
  const list = runtime.instructions;
  const where = at(runtime);
  if (runtime === build)
    problems.push(`${where}: the final stage is the build stage (it would ship devDependencies)`);
  const dist = `dist/apps/${app.project}`;
  const copies = list.filter((i) => keyword(i) === 'COPY' && copyFrom(i));
  for (const copy of copies) {
    for (const source of copySources(copy)) {
      if (!source.replace(/\/$/, '').includes(dist))
        problems.push(`${where}: copies ${source}, outside ${dist}`);
    }
  }
  const wholeApp = list.findIndex(
    (i) =>
      keyword(i) === 'COPY' && copyFrom(i) && copySources(i).some((s) => s.replace(/\/$/, '').endsWith(dist)),
  );
  if (wholeApp < 0) problems.push(`${where}: does not copy ${dist}/ from the build stage`);
  const prodInstall = list.findIndex((i) => keyword(i) === 'RUN' && NPM_CI.test(runText(i)));
  if (prodInstall < 0 || !/--omit[= ]dev\b/.test(runText(list[prodInstall]))) {
    problems.push(`${where}: does not install production dependencies with "npm ci --omit=dev"`);
  } else {
    const manifests = list.findIndex(
      (i) =>
        keyword(i) === 'COPY' &&
        ['package.json', 'package-lock.json'].every((file) =>
          copySources(i).some((s) => s.endsWith(`${dist}/${file}`)),
        ),
    );
    if (manifests < 0 || manifests > prodInstall) {
      problems.push(`${where}: does not copy ${dist}/package.json and package-lock.json before npm ci`);
    }
    if (wholeApp >= 0 && wholeApp < prodInstall) {
      problems.push(`${where}: copies the bundle before npm ci (a code change would reinstall)`);
    }
  }
  const env = envOf(runtime);
  if (env.get('NODE_ENV') !== 'production') problems.push(`${where}: NODE_ENV is not production`);
  const known = new Set(schema.map((variable) => variable.name));
  for (const name of env.keys()) {
    if (!known.has(name) && !RUNTIME_ENV.has(name))
      problems.push(`${where}: ENV ${name} is not a variable ${app.project} reads`);
  }

  const users = list.filter((i) => keyword(i) === 'USER').map((i) => argumentValues(i)[0] ?? '');
  const user = users.at(-1);
  if (user === undefined) problems.push(`${where}: no USER (it would run as root)`);
  else if (/^(root|0)(:.*)?$/.test(user)) problems.push(`${where}: runs as ${user}`);

  const port = defaultText(schema, app.portVariable);
  const exposed = list.filter((i) => keyword(i) === 'EXPOSE').flatMap(argumentValues);
  for (const value of exposed) {
    if (value.replace(/\/(tcp|udp)$/, '') !== port)
      problems.push(`${where}: EXPOSE ${value}, but ${app.portVariable} defaults to ${port}`);
  }
  if (exposed.length === 0) problems.push(`${where}: no EXPOSE ${port}`);

  const healthchecks = list.filter((i) => keyword(i) === 'HEALTHCHECK');
  const health = healthchecks.at(-1)?.getRawArgumentsContent() ?? '';
  if (!health || /^NONE\b/i.test(health.trim())) {
    problems.push(`${where}: no HEALTHCHECK`);
  } else {
    if (!health.includes(app.healthPath))
      problems.push(`${where}: the HEALTHCHECK does not request ${app.healthPath}`);
    if (!new RegExp(`\\b${port}\\b`).test(health))
      problems.push(`${where}: the HEALTHCHECK does not use port ${port}`);
    for (const [, name] of health.matchAll(/process\.env\.([A-Z_][A-Z0-9_]*)/g)) {
      if (name !== app.portVariable)
        problems.push(`${where}: the HEALTHCHECK reads ${name}, not ${app.portVariable}`);
    }
    if (/\bcurl\b|\bwget\b/.test(health))
      problems.push(`${where}: the HEALTHCHECK uses curl/wget, which slim images lack`);
  }

  const cmd = list.filter((i) => keyword(i) === 'CMD').at(-1);
  const cmdArgs = cmd instanceof JSONInstruction ? cmd.getJSONStrings().map((arg) => arg.getJSONValue()) : [];
  if (JSON.stringify(cmdArgs) !== JSON.stringify(['node', 'main.js'])) {
    problems.push(`${where}: CMD is not ["node", "main.js"] (exec form, so node gets SIGTERM)`);
  }
  return problems;
}

function versionOf(text: string): number[] | undefined {
  const match = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  return match ? [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)] : undefined;
}

function below(a: number[], b: number[]): boolean {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] < b[i];
  return false;
}

/** Every `node:` base image satisfies package.json's `engines.node` (a `>=X.Y[.Z]` floor). */
export function checkNodeEngine(text: string, dockerfile: string, engine: string): string[] {
  const floor = /^\s*>=\s*(\d+(?:\.\d+){0,2})\s*$/.exec(engine);
  if (!floor) return [`package.json engines.node "${engine}" is not a ">=X.Y" floor this check understands`];
  const minimum = versionOf(`${floor[1]}.0.0`);
  return stagesOf(text).flatMap((stage) => {
    const image = stage.from.getImage() ?? '';
    if (!/^(docker\.io\/)?(library\/)?node:/.test(image)) return [];
    const version = versionOf(image.slice(image.indexOf(':') + 1));
    return version && minimum && !below(version, minimum)
      ? []
      : [`${dockerfile}: ${image} does not satisfy engines.node ${engine}`];
  });
}

/** The images the stages start from (not the stages they build on), in order. */
export function baseImages(text: string): string[] {
  const stages = stagesOf(text);
  const names = new Set(stages.map((stage) => stage.name).filter(Boolean));
  return stages.map((stage) => stage.from.getImage() ?? '').filter((image) => !names.has(image));
}

/**
 * Every Dockerfile starts from one and the same base image (tag and digest), so an update (Dependabot's grouped
 * pull request) moves them all at once and no app lags on an older image.
 */
export function checkSameBaseImage(dockerfiles: Readonly<Record<string, string>>): string[] {
  const uses = new Map<string, string[]>();
  for (const [path, text] of Object.entries(dockerfiles)) {
    for (const image of baseImages(text)) uses.set(image, [...(uses.get(image) ?? []), path]);
  }
  if (uses.size <= 1) return [];
  return [
    `the Dockerfiles start from different base images: ${[...uses]
      .map(([image, paths]) => `${image} (${[...new Set(paths)].join(', ')})`)
      .join('; ')}`,
  ];
}
