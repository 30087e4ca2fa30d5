/** The capacity results as Markdown: the measured steps, commands and memory per job, and the derivation. Pure. */
import { formatNumber, markdownTable } from '../report';
import {
  deriveCapacity,
  ModeCapacity,
  redisCoresAt,
  README_WORKER_RATES,
  StepFigures,
  textsPerWorkerCore,
  WorkerRate,
} from './derive';
import type { StepResult } from './step';

const us = (seconds: number) => formatNumber(seconds * 1e6);
const ms = (seconds: number) => formatNumber(seconds * 1e3);
const pct = (cores: number, digits = 0) => `${(cores * 100).toFixed(digits)} %`;
const bytes = (n: number) => formatNumber(n);

export function stepTable(steps: readonly StepResult[]): string {
  const rows = steps.map((s) => {
    const { spec } = s;
    if (s.status !== 'ok')
      return [spec.mode, String(spec.workers), `failed: ${s.error ?? ''}`, ...Array(11).fill('')];
    const { cpu, redis } = s;
    const perJob = (seconds: number) => (s.jobs > 0 ? seconds / s.jobs : NaN);
    return [
      spec.mode,
      String(spec.workers),
      formatNumber(s.jobsPerSecond),
      formatNumber(s.textsPerSecond),
      formatNumber(s.latencyMs.p50),
      pct(redis.cpuCores, 1),
      us(redis.cpuSecondsPerJob),
      us(redis.cpuSecondsPerText),
      pct(redis.idleCpuCores, 2),
      `${formatNumber(redis.commands.all)} (${formatNumber(redis.commands.scripts)})`,
      `${bytes(redis.netInputBytesPerJob)} / ${bytes(redis.netOutputBytesPerJob)}`,
      `${ms(perJob(cpu.gateway))} / ${ms(perJob(cpu.workers))} / ${ms(perJob(cpu.driver))}`,
      formatNumber((cpu.redis + cpu.gateway + cpu.workers + cpu.driver) / cpu.seconds),
      formatNumber(cpu.others / cpu.seconds),
    ];
  });
  return markdownTable(
    [
      'mode',
      'workers',
      'jobs/s',
      'texts/s',
      'p50 ms',
      'Redis CPU (of a core)',
      'Redis µs/job',
      'Redis µs/text',
      'Redis idle',
      'commands/job (Lua calls)',
      'net bytes/job in / out',
      'CPU ms/job gateway / workers / load driver',
      'our cores',
      'others (cores)',
    ],
    rows,
  );
}

/** The ok step of each mode with the fewest workers (the least background per job), in mode order. */
export function representativeSteps(steps: readonly StepResult[]): StepResult[] {
  const byMode = new Map<string, StepResult>();
  for (const step of steps) {
    if (step.status !== 'ok') continue;
    const current = byMode.get(step.spec.mode);
    if (!current || step.spec.workers < current.spec.workers) byMode.set(step.spec.mode, step);
  }
  return [...byMode.values()];
}

/** Commands per job of one step: commandstats (everything executed), split by MONITOR into client and Lua. */
export function commandTable(step: StepResult, top = 14): string {
  const trace = new Map(step.trace?.byCommand.map((row) => [row.command, row]) ?? []);
  const rows = step.redis.commands.byCommand.slice(0, top).map((row) => {
    const traced = trace.get(row.command);
    return [
      row.command,
      formatNumber(row.perJob),
      traced ? formatNumber(traced.client) : '–',
      traced ? formatNumber(traced.script) : '–',
      formatNumber(row.usecPerJob),
    ];
  });
  return markdownTable(
    ['command', 'per job', 'sent by clients (MONITOR)', 'inside Lua (MONITOR)', 'µs/job executing'],
    rows,
  );
}

export function scriptLine(step: StepResult): string {
  if (!step.trace) return '';
  const scripts = step.trace.scripts
    .map(
      (s) =>
        `${s.script} ${formatNumber(s.perJob)} (${formatNumber(s.commandsPerCall)} commands per call` +
        `${s.commands.length ? `: ${s.commands.slice(0, 4).join(', ')}${s.commands.length > 4 ? ' …' : ''}` : ''})`,
    )
    .join('; ');
  return (
    `MONITOR over ${step.trace.jobs} jobs: ${formatNumber(step.trace.clientCommandsPerJob)} commands per job sent by ` +
    `clients, ${formatNumber(step.trace.scriptCommandsPerJob)} run inside Lua. Script calls per job: ${scripts || 'none'}.`
  );
}

export function memoryTable(steps: readonly StepResult[]): string {
  const rows = steps
    .flatMap((s) => (s.memory ? [{ ...s, memory: s.memory }] : []))
    .map((s) => {
      const { memory } = s;
      const family = (name: string) =>
        formatNumber(memory.retained.byFamily.find((f) => f.family === name)?.bytesPerJob ?? 0);
      return [
        s.spec.mode,
        String(s.spec.workers),
        memory.inFlight
          ? `${bytes(memory.inFlight.jobHashBytes)} + ${bytes(memory.inFlight.lockBytes)}`
          : '–',
        formatNumber(memory.retained.bytesPerJob),
        family('jobs'),
        family('completed set'),
        family('events stream'),
        family('prediction stream'),
        family('prediction index'),
        String(memory.completedJobsKept),
        formatNumber(
          (memory.usedMemoryBytes - memory.usedMemoryAtStartBytes) / Math.max(1, memory.completedJobsKept),
        ),
      ];
    });
  return markdownTable(
    [
      'mode',
      'workers',
      'in flight: job hash + lock, bytes',
      'kept per completed job, bytes',
      'job hash',
      'completed set',
      'events stream',
      'prediction stream',
      'prediction index',
      'completed jobs kept',
      'used_memory growth / job',
    ],
    rows,
  );
}

export const stepFigures = (steps: readonly StepResult[]): StepFigures[] =>
  steps
    .filter((s) => s.status === 'ok' && s.jobs > 0)
    .map((s) => ({
      mode: s.spec.mode,
      workers: s.spec.workers,
      textsPerJob: s.spec.textsPerJob,
      redisCpuSecondsPerJob: s.redis.cpuSecondsPerJob,
    }));

/** The derivation, one paragraph per mode, the arithmetic written out. */
export function derivationText(
  capacities: readonly ModeCapacity[],
  rates: readonly WorkerRate[] = README_WORKER_RATES,
  maxWorkers = 20,
): string {
  const lines: string[] = [];
  const rateLine = rates
    .map(
      (r) =>
        `${r.label} ${formatNumber(r.textsPerSecond)} texts/s on ${r.cores} cores = ${formatNumber(textsPerWorkerCore(r))} per core`,
    )
    .join('; ');
  lines.push(`Worker rates (base model, README Benchmarks): ${rateLine}.`, '');
  for (const mode of capacities) {
    const { capacity } = mode;
    const fed = mode.fed
      .map(
        (f) =>
          `${f.rate.label}: ${formatNumber(capacity.textsPerSecond)} / ${formatNumber(textsPerWorkerCore(f.rate))} = ${formatNumber(f.cores)} worker cores (${formatNumber(f.workers)} workers of ${f.rate.cores} cores)`,
      )
      .join('; ');
    const atMax = mode.fed
      .map((f) => {
        const cores = redisCoresAt(maxWorkers, f.rate, capacity.cpuSecondsPerJob, mode.textsPerJob);
        return `${f.rate.label} ${maxWorkers} × ${formatNumber(f.rate.textsPerSecond)} = ${formatNumber(maxWorkers * f.rate.textsPerSecond)} texts/s → ${pct(cores)} of a core`;
      })
      .join('; ');
    lines.push(
      `- **${mode.mode}** (${mode.textsPerJob} text${mode.textsPerJob === 1 ? '' : 's'} per job): Redis CPU ` +
        `${us(mode.minCpuSecondsPerJob)}-${us(mode.maxCpuSecondsPerJob)} µs per job over the worker counts; with the largest, ` +
        `${capacity.budgetCores} s / ${us(capacity.cpuSecondsPerJob)} µs = **${formatNumber(capacity.jobsPerSecond)} jobs/s** × ${mode.textsPerJob} = ` +
        `**${formatNumber(capacity.textsPerSecond)} texts/s** at ${pct(capacity.budgetCores)} of a core. That feeds ${fed}. ` +
        `At the production overlay's ${maxWorkers} workers: ${atMax}.`,
    );
  }
  return lines.join('\n');
}

export function capacityReport(
  steps: readonly StepResult[],
  budgetCores: number,
  header: string,
): { markdown: string; capacities: ModeCapacity[] } {
  const capacities = deriveCapacity(stepFigures(steps), README_WORKER_RATES, budgetCores);
  const parts = [header, '', '### Measured steps', '', stepTable(steps), ''];
  for (const step of representativeSteps(steps)) {
    parts.push(
      `### Commands per job: ${step.spec.mode}, ${step.spec.workers} worker(s)`,
      '',
      commandTable(step),
      '',
    );
    const scripts = scriptLine(step);
    if (scripts) parts.push(scripts, '');
  }
  parts.push('### Memory per job', '', memoryTable(steps), '');
  parts.push('### Derivation', '', derivationText(capacities), '');
  return { markdown: parts.join('\n'), capacities };
}
