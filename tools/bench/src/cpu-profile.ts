/**
 * `--profile`: V8 CPU profiles of the gateway's and the worker's main threads over a measured window
 * (started and stopped by SIGUSR2 through cpu-profile-hook.js), summarized as the top functions by self
 * time and the self time per package. The summary is pure, so it is tested.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The hook the apps are started with (`NODE_OPTIONS=--require <this>`). */
export const CPU_PROFILE_HOOK = join(__dirname, 'cpu-profile-hook.js');

/** The parts of a `.cpuprofile` (Chrome DevTools / `node --cpu-prof` format) that the summary reads. */
export interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
  }>;
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  /** Function name, or V8's `(program)`, `(garbage collector)`, `(idle)`. */
  name: string;
  /** package/file:line (1-based), or empty for V8's own entries. */
  where: string;
  selfMs: number;
  /** Of the busy time (everything but `(idle)`). */
  share: number;
}

export interface ProfileSummary {
  /** Which app and scenario, e.g. `worker, full-single:fp32`. */
  label: string;
  file: string;
  wallMs: number;
  /** Sampled time not idle: roughly the main thread's CPU time. */
  busyMs: number;
  top: ProfileEntry[];
  /** Self time per npm package (`bullmq`, `ioredis` …), `node:internal`, the app's own bundle, V8. */
  byPackage: ProfileEntry[];
}

const V8_ENTRIES = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

/** `.../node_modules/@scope/pkg/dist/x.js` -> `@scope/pkg`; node:internal/… -> `node:internal`; else the file name. */
export function packageOf(url: string): string {
  if (url === '') return '(native)';
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const parts = url.slice(modules + 'node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (url.startsWith('node:')) return 'node:internal';
  return url.replace(/^file:\/\//, '').replace(/^.*\/(dist|src)\//, '$1/');
}

function where(url: string, lineNumber: number): string {
  if (url === '') return '';
  const modules = url.lastIndexOf('node_modules/');
  const short =
    modules >= 0
      ? url.slice(modules + 'node_modules/'.length)
      : url.startsWith('node:')
        ? url
        : url.replace(/^file:\/\//, '').replace(/^.*\/(dist|src)\//, '$1/');
  return `${short}:${lineNumber + 1}`;
}

/**
 * Self time per function and per package. A sample's duration is the delta to the next sample (the
 * last one gets the mean), the way DevTools attributes time.
 */
export function summarizeProfile(
  profile: CpuProfile,
  label: string,
  file: string,
  topN = 15,
): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const { samples, timeDeltas } = profile;
  const mean = samples.length > 1 ? timeDeltas.slice(1).reduce((a, b) => a + b, 0) / (samples.length - 1) : 0;
  const selfUs = new Map<string, { name: string; where: string; us: number }>();
  const packageUs = new Map<string, number>();
  let idleUs = 0;
  let totalUs = 0;
  samples.forEach((id, index) => {
    const us = index + 1 < timeDeltas.length ? timeDeltas[index + 1] : mean;
    const node = byId.get(id);
    if (!node) return;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || '(anonymous)';
    totalUs += us;
    if (name === '(idle)') {
      idleUs += us;
      return;
    }
    const v8 = V8_ENTRIES.has(name) && url === '';
    const key = v8 ? name : `${name}@${url}:${lineNumber}`;
    const entry = selfUs.get(key) ?? { name, where: v8 ? '' : where(url, lineNumber), us: 0 };
    entry.us += us;
    selfUs.set(key, entry);
    const pkg = v8 ? name : packageOf(url);
    packageUs.set(pkg, (packageUs.get(pkg) ?? 0) + us);
  });
  const busyUs = totalUs - idleUs;
  const share = (us: number) => (busyUs > 0 ? us / busyUs : 0);
  const top = [...selfUs.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, topN)
    .map((entry) => ({
      name: entry.name,
      where: entry.where,
      selfMs: entry.us / 1000,
      share: share(entry.us),
    }));
  const byPackage = [...packageUs.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, topN)
    .map(([name, us]) => ({ name, where: '', selfMs: us / 1000, share: share(us) }));
  return {
    label,
    file,
    wallMs: (profile.endTime - profile.startTime) / 1000,
    busyMs: busyUs / 1000,
    top,
    byPackage,
  };
}

/** Reads a profile the hook wrote (once its `.done` marker exists) and summarizes it. */
export function readProfile(file: string, label: string, topN?: number): ProfileSummary {
  return summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, label, file, topN);
}

/** Profiles summarized during the run, collected for the results file and the report. */
export const collectedProfiles: ProfileSummary[] = [];

export function profileReady(file: string): boolean {
  return existsSync(`${file}.done`);
}

/** The summary as Markdown: one table of top functions, one of packages. */
export function profileMarkdown(summary: ProfileSummary): string {
  const pct = (share: number) => `${(share * 100).toFixed(1)} %`;
  const lines = [
    `**${summary.label}**: ${(summary.busyMs / 1000).toFixed(2)} s busy on the main thread in ${(summary.wallMs / 1000).toFixed(1)} s ` +
      `(${((summary.busyMs / summary.wallMs) * 100).toFixed(0)} % of a core); ${summary.file}`,
    '',
    '| self ms | share | function | where |',
    '| ---: | ---: | --- | --- |',
    ...summary.top.map(
      (entry) =>
        `| ${entry.selfMs.toFixed(0)} | ${pct(entry.share)} | ${entry.name.replace(/\|/g, '\\|')} | ${entry.where} |`,
    ),
    '',
    '| self ms | share | package |',
    '| ---: | ---: | --- |',
    ...summary.byPackage.map(
      (entry) => `| ${entry.selfMs.toFixed(0)} | ${pct(entry.share)} | ${entry.name} |`,
    ),
  ];
  return lines.join('\n');
}
