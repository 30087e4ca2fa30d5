// @ts-check
// Preloaded into the gateway and the worker by `npm run bench -- --profile` (NODE_OPTIONS=--require):
// the first SIGUSR2 starts V8's CPU profiler on the main thread, the next one stops it and writes
// $BENCH_CPU_PROFILE_DIR/$BENCH_CPU_PROFILE_ROLE-<pid>-<n>.cpuprofile (the format Chrome DevTools and
// `node --cpu-prof` use), then an empty `.done` file beside it. So only the measured window is profiled,
// not the start-up. Plain JavaScript: it is loaded by the built apps as it is.
'use strict';
const inspector = require('node:inspector');
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

const dir = process.env.BENCH_CPU_PROFILE_DIR;
const role = process.env.BENCH_CPU_PROFILE_ROLE ?? 'app';
/** Sampling interval in microseconds (V8's default is 1000). */
const intervalUs = Number(process.env.BENCH_CPU_PROFILE_INTERVAL_US ?? 500);

if (dir) {
  /** @type {inspector.Session | undefined} */
  let session;
  let count = 0;
  process.on('SIGUSR2', () => {
    if (!session) {
      const started = new inspector.Session();
      session = started;
      started.connect();
      started.post('Profiler.enable', () =>
        started.post('Profiler.setSamplingInterval', { interval: intervalUs }, () =>
          started.post('Profiler.start'),
        ),
      );
      return;
    }
    const stopping = session;
    session = undefined;
    stopping.post('Profiler.stop', (error, result) => {
      const file = join(dir, `${role}-${process.pid}-${++count}.cpuprofile`);
      if (!error) writeFileSync(file, JSON.stringify(result.profile));
      writeFileSync(`${file}.done`, error ? String(error) : '');
      stopping.disconnect();
    });
  });
}
