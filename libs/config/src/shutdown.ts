interface Closable {
  close(): Promise<void>;
}

/**
 * Closes the app on SIGTERM/SIGINT and exits with `process.exitCode` (0 unless something set it).
 * Nest's own shutdown hooks re-raise the signal after closing, which reports a clean stop as a kill;
 * orchestrators and tests read the exit code. A second signal, or `graceMs` past the app's own
 * shutdown bound, forces the exit. `afterClose` runs once the app is closed (e.g. flushing the last spans).
 */
export function closeOnSignals(
  app: Closable,
  graceMs: number,
  afterClose: () => Promise<void> = async () => undefined,
): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) process.exit(process.exitCode ?? 1);
    closing = true;
    setTimeout(() => {
      console.error(`shutdown after ${signal} took longer than ${graceMs + 5_000} ms; exiting`);
      process.exit(1);
    }, graceMs + 5_000).unref();
    app
      .close()
      .then(afterClose)
      .then(
        () => process.exit(process.exitCode ?? 0),
        (error: Error) => {
          console.error(`shutdown failed: ${error.message}`);
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
