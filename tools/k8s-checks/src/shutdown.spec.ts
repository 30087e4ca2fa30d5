/** The shutdown bounds apps.ts assumes are the ones the apps' code has (a change there must change the manifests). */
import { appNamed, HARD_EXIT_AFTER_GRACE_MS } from './apps';
import { readWorkspaceFile } from './workspace';

describe('shutdown bounds', () => {
  it('closeOnSignals exits 5 s after its grace period', () => {
    expect(HARD_EXIT_AFTER_GRACE_MS).toBe(5_000);
    expect(readWorkspaceFile('libs/config/src/shutdown.ts')).toContain('}, graceMs + 5_000).unref();');
  });

  it.each([
    ['gateway', 'config.shutdownTimeoutMs'],
    ['inference-worker', 'config.shutdownTimeoutMs'],
    ['drift-monitor', 'Math.max(10_000, config.golden.timeoutMs + 5_000)'],
  ])('%s passes the grace period apps.ts computes', (project, grace) => {
    // The grace period is closeOnSignals' second argument (a third, run after closing, does not extend it).
    const calls = [
      ...readWorkspaceFile(`apps/${project}/src/main.ts`).matchAll(
        /closeOnSignals\(app, (.+?)(?:, \w+)?\);/g,
      ),
    ];
    expect(calls.map((call) => call[1])).toEqual([grace]);
    const app = appNamed(project);
    const env = (values: Record<string, string>) => (name: string) => values[name];
    const computed = app.graceMs(env({ SHUTDOWN_TIMEOUT_MS: '10000', GOLDEN_TIMEOUT_MS: '60000' }));
    expect(computed).toBe(project === 'drift-monitor' ? 65_000 : 10_000);
  });
});
