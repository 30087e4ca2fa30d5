/**
 * The apps as the manifests must run them. The shutdown bounds mirror each app's main.ts
 * (`closeOnSignals(app, graceMs)`, which exits 5 s after graceMs at the latest: libs/config/src/shutdown.ts);
 * shutdown.spec.ts reads those sources so a change there fails here.
 */
export type EnvLookup = (name: string) => string | undefined;

export interface K8sApp {
  /** Nx project: apps/<project>, dist/apps/<project>/main.js. */
  project: string;
  /** The Deployment, its container, its Service and the Prometheus job (the alert rules' `job="…"`). */
  name: string;
  /** The env variable holding the app's HTTP port (health, metrics, and the API where there is one). */
  portVariable: string;
  /** Takes traffic through a Service, so a preStop delay lets endpoints drain before SIGTERM. */
  serviceFacing: boolean;
  /** graceMs passed to closeOnSignals, from the container's effective environment. */
  graceMs(env: EnvLookup): number;
}

/** closeOnSignals exits this long after graceMs whatever is still running. */
export const HARD_EXIT_AFTER_GRACE_MS = 5_000;

const int = (env: EnvLookup, name: string) => Number(env(name));

export const K8S_APPS: readonly K8sApp[] = [
  {
    project: 'gateway',
    name: 'gateway',
    portVariable: 'PORT',
    serviceFacing: true,
    graceMs: (env) => int(env, 'SHUTDOWN_TIMEOUT_MS'),
  },
  {
    project: 'inference-worker',
    name: 'inference-worker',
    portVariable: 'HEALTH_PORT',
    serviceFacing: false,
    graceMs: (env) => int(env, 'SHUTDOWN_TIMEOUT_MS'),
  },
  {
    project: 'drift-monitor',
    name: 'drift-monitor',
    portVariable: 'PORT',
    serviceFacing: true,
    graceMs: (env) => Math.max(10_000, int(env, 'GOLDEN_TIMEOUT_MS') + 5_000),
  },
];

export const WORKER = 'inference-worker';
export const GATEWAY = 'gateway';
export const DRIFT_MONITOR = 'drift-monitor';
export const HEALTH = { live: '/health/live', ready: '/health/ready', metrics: '/metrics' } as const;

/** The init container that downloads the model into the workers' model volume, and what it may be given. */
export const MODEL_PULL = {
  container: 'model-pull',
  image: 'model-pull',
  /** Read by the model-pull CLI itself (hubSettingsFromEnv) besides the script's own variables. */
  cliEnv: ['HF_ENDPOINT', 'HF_TOKEN'],
} as const;

/** The app of this name (throws on a typo, so a rule never checks nothing). */
export function appNamed(name: string): K8sApp {
  const app = K8S_APPS.find((each) => each.name === name);
  if (!app) throw new Error(`no app ${name}`);
  return app;
}

/** The images this repository builds, as CI pushes them: ghcr.io/<owner>/<repo>/<image>:<commit sha>. */
export const PROJECT_IMAGES = [...K8S_APPS.map((app) => app.name), MODEL_PULL.image];
