import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GATEWAY_MAIN, SMALL_MODEL_DIR, TINY_MODEL_DIR, WORKER_MAIN, WORKSPACE_ROOT } from './paths';

/** Generates the synthetic models the suites use (skipped when already there) and checks the apps are built. */
export default function globalSetup(): void {
  for (const main of [GATEWAY_MAIN, WORKER_MAIN]) {
    if (!existsSync(main))
      throw new Error(`${main} is missing: build the apps first (npx nx run-many -t build)`);
  }
  const cli = join(WORKSPACE_ROOT, 'tools/synthetic-model/src/cli.ts');
  const tsx = join(WORKSPACE_ROOT, 'node_modules/.bin/tsx');
  for (const [preset, out] of [
    ['tiny', TINY_MODEL_DIR],
    ['small', SMALL_MODEL_DIR],
  ]) {
    execFileSync(tsx, [cli, '--preset', preset, '--out', out], { cwd: WORKSPACE_ROOT, stdio: 'inherit' });
  }
}
