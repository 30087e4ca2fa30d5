/**
 * `npm run bench:drift`: how fast the drift monitor's statistics flag injected shifts and how often they
 * flag clean windows, on seeded synthetic prediction streams (libs/drift-stats `measureDetection`), plus
 * the confirmed-drift rule's false alarms (two drifted windows in a row, DRIFT_CONSECUTIVE_WINDOWS).
 *   npm run bench:drift -- [--seeds 5] [--window 500] [--clean 600]
 */
import { parseArgs } from 'node:util';
import { DetectionSummary, formatDetectionSummary, measureDetection } from '@reputation-monitor/drift-stats';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '5' },
    window: { type: 'string', default: '500' },
    clean: { type: 'string', default: '600' },
  },
});
const seeds = Number(values.seeds);
const windowSize = Number(values.window);
const cleanWindows = Number(values.clean);
for (const [name, value] of Object.entries({ seeds, window: windowSize, clean: cleanWindows })) {
  if (!Number.isInteger(value) || value < 1) {
    console.error(`--${name} must be a positive integer`);
    process.exit(1);
  }
}

const summaries: DetectionSummary[] = [];
for (let seed = 1; seed <= seeds; seed++) {
  const started = performance.now();
  const summary = measureDetection({ seed, windowSize, cleanWindows });
  summaries.push(summary);
  console.log(`seed ${seed} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  console.log(formatDetectionSummary(summary).replace(/^/gm, '  '));
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
console.log(`\nover ${seeds} seed(s), windows of ${windowSize} predictions:`);
console.log('| shift | detected | delay in windows (median, max) | shifted predictions seen (median) |');
console.log('| --- | --- | --- | --- |');
for (const scenario of summaries[0].scenarios.map((s) => s.scenario)) {
  const outcomes = summaries.map((s) => s.scenarios.find((o) => o.scenario === scenario));
  const delays = outcomes.flatMap((o) => (o?.delayWindows === null || !o ? [] : [o.delayWindows]));
  const samples = outcomes.flatMap((o) => (o?.delaySamples === null || !o ? [] : [o.delaySamples]));
  console.log(
    `| ${scenario} | ${delays.length}/${seeds} | ${delays.length ? `${median(delays)}, ${Math.max(...delays)}` : '-'} | ${samples.length ? median(samples) : '-'} |`,
  );
}
const windows = summaries.reduce((sum, s) => sum + s.falseAlarms.windows, 0);
const alarms = summaries.reduce((sum, s) => sum + s.falseAlarms.alarms, 0);
console.log(
  `\nsingle-window false alarms: ${alarms} of ${windows} clean windows (${((100 * alarms) / windows).toFixed(2)} %)`,
);
// Two clean windows in a row both drifting: rate squared if windows were independent. They share the
// reference's sampling error, so a reference that happens to be off raises it (see the per-reference rates).
const rate = alarms / windows;
console.log(
  `confirmed drift (2 windows in a row) on clean traffic, if windows were independent: ` +
    `${(100 * rate * rate).toFixed(4)} % of windows`,
);
