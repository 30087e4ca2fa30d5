import {
  AppProcess,
  spawnApp as spawn,
  startDriftMonitor as driftMonitor,
  startGateway as gateway,
  startWorker as worker,
} from '@reputation-monitor/app-harness';
import { REDIS_URL, TINY_MODEL_DIR, WORKSPACE_ROOT } from './paths';

export { freePort, stopAll, waitFor } from '@reputation-monitor/app-harness';
export type { AppProcess } from '@reputation-monitor/app-harness';

// The suites' defaults: the tiny synthetic model on one intra-op thread, the local test Redis.
const base = { workspaceRoot: WORKSPACE_ROOT, redisUrl: REDIS_URL };

export const startWorker = (env: Record<string, string>): Promise<AppProcess> =>
  worker({ ...base, env: { MODEL_DIR: TINY_MODEL_DIR, INTRA_OP_THREADS: '1', ...env } });

export const startGateway = (env: Record<string, string>): Promise<AppProcess> => gateway({ ...base, env });

/** The admin key every drift monitor of the suites accepts (runs are admin only). */
export const E2E_ADMIN_KEY = 'e2e-admin-key-0123456789';
export const adminAuth = { 'x-api-key': E2E_ADMIN_KEY };

// No dataset store unless a suite asks for one, so runs never write labelled data into the workspace.
export const startDriftMonitor = (env: Record<string, string>): Promise<AppProcess> =>
  driftMonitor({ ...base, env: { DATASET_STORE: 'off', ADMIN_API_KEYS: E2E_ADMIN_KEY, ...env } });

export const spawnApp = (which: 'gateway' | 'worker', env: Record<string, string>): AppProcess =>
  spawn(which, { ...base, env });
