import { CpuProfile, packageOf, profileMarkdown, summarizeProfile } from './cpu-profile';

const frame = (functionName: string, url: string, lineNumber = 0) => ({ functionName, url, lineNumber });

/** Root, idle, GC, an ioredis function, a function of the app's bundle and a Node internal. */
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)', '') },
    { id: 2, callFrame: frame('(idle)', '') },
    { id: 3, callFrame: frame('(garbage collector)', '') },
    { id: 4, callFrame: frame('Command', 'file:///app/node_modules/ioredis/built/Command.js', 36) },
    { id: 5, callFrame: frame('handle', 'file:///app/dist/apps/inference-worker/main.js', 2723) },
    { id: 6, callFrame: frame('', 'node:internal/streams/readable', 10) },
    { id: 7, callFrame: frame('parse', 'file:///app/node_modules/@scope/pkg/index.js', 0) },
  ],
  startTime: 0,
  endTime: 10_000,
  // Each sample lasts until the next one: the deltas are those of the sample after it.
  samples: [2, 2, 4, 5, 5, 5, 3, 6, 7, 2],
  timeDeltas: [0, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
};

describe('summarizeProfile', () => {
  it('ranks functions by self time, leaving idle time out of the shares', () => {
    const summary = summarizeProfile(profile, 'worker, full-single:fp32', 'w.cpuprofile', 3);
    expect(summary.wallMs).toBe(10);
    // 10 samples of 1 ms; three idle (the last gets the mean delta).
    expect(summary.busyMs).toBeCloseTo(7);
    expect(summary.top.map((entry) => [entry.name, entry.where, entry.selfMs])).toEqual([
      ['handle', 'dist/apps/inference-worker/main.js:2724', 3],
      ['Command', 'ioredis/built/Command.js:37', 1],
      ['(garbage collector)', '', 1],
    ]);
    expect(summary.top[0].share).toBeCloseTo(3 / 7);
  });

  it('adds self time up by package', () => {
    const summary = summarizeProfile(profile, 'gateway', 'g.cpuprofile');
    expect(Object.fromEntries(summary.byPackage.map((entry) => [entry.name, entry.selfMs]))).toEqual({
      'dist/apps/inference-worker/main.js': 3,
      ioredis: 1,
      '(garbage collector)': 1,
      'node:internal': 1,
      '@scope/pkg': 1,
    });
  });

  it('prints Markdown tables', () => {
    const text = profileMarkdown(summarizeProfile(profile, 'worker', 'w.cpuprofile', 2));
    expect(text).toContain('**worker**: 0.01 s busy on the main thread in 0.0 s (70 % of a core)');
    expect(text).toContain('| 3 | 42.9 % | handle | dist/apps/inference-worker/main.js:2724 |');
    expect(text).toContain('| 3 | 42.9 % | dist/apps/inference-worker/main.js |');
  });
});

describe('packageOf', () => {
  it('names the npm package, Node internals or the file', () => {
    expect(packageOf('file:///w/node_modules/bullmq/dist/cjs/classes/worker.js')).toBe('bullmq');
    expect(packageOf('/w/node_modules/a/node_modules/@nestjs/core/router.js')).toBe('@nestjs/core');
    expect(packageOf('node:internal/timers')).toBe('node:internal');
    expect(packageOf('node:_http_server')).toBe('node:internal');
    expect(packageOf('')).toBe('(native)');
  });
});
