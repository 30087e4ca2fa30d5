/**
 * `--model-cpus`: the model on CPUs of its own. The worker and the in-process model runs are confined to the
 * listed CPUs, and the benchmark (the load generator), the gateway and a local Redis to the others, as in a
 * deployment where the gateway and Redis run on other machines. Linux only, through util-linux's `taskset`:
 * Node has no affinity API, and the OS-level mask is what every thread a process starts later inherits.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { UsageError } from './usage-error';

const run = promisify(execFile);

export interface CpuPinning {
  /** The worker and the model runs, as a `taskset -c` list. */
  model: string;
  /** The benchmark, the gateway and Redis. */
  rest: string;
}

/** `0-2,5` -> [0, 1, 2, 5]; throws a UsageError naming the option for anything else. */
export function parseCpuList(list: string, what = '--model-cpus'): number[] {
  const cpus = new Set<number>();
  for (const part of list.split(',')) {
    const match = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(part);
    const first = Number(match?.[1]);
    const last = match?.[2] === undefined ? first : Number(match[2]);
    if (!match || last < first)
      throw new UsageError(`${what} takes CPU numbers and ranges such as 0 or 0-1,4, got "${list}"`);
    for (let cpu = first; cpu <= last; cpu++) cpus.add(cpu);
  }
  return [...cpus].sort((a, b) => a - b);
}

export const formatCpuList = (cpus: readonly number[]): string => cpus.join(',');

/** The CPUs a process may run on, from /proc (Linux). */
export function cpusOf(pid: number | 'self' = 'self'): number[] {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const list = /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1];
  if (!list) throw new Error(`/proc/${pid}/status has no Cpus_allowed_list`);
  return parseCpuList(list, 'Cpus_allowed_list');
}

/** The model's CPUs and the others, out of those this process may use; at least one must be left over. */
export function planPinning(model: readonly number[], allowed: readonly number[]): CpuPinning {
  const unknown = model.filter((cpu) => !allowed.includes(cpu));
  if (unknown.length > 0)
    throw new UsageError(
      `--model-cpus names CPU ${formatCpuList(unknown)}, which this process may not use (it may use ${formatCpuList(allowed)})`,
    );
  const rest = allowed.filter((cpu) => !model.includes(cpu));
  if (rest.length === 0)
    throw new UsageError(
      `--model-cpus ${formatCpuList(model)} leaves no CPU for the benchmark, the gateway and Redis (this process may use ${formatCpuList(allowed)})`,
    );
  return { model: formatCpuList(model), rest: formatCpuList(rest) };
}

/**
 * Confines every thread of a running process (and those it starts later) to `cpus`, and checks that it took:
 * with `--all-tasks`, taskset says nothing about a pid that is gone.
 */
export async function pinProcess(pid: number, cpus: string): Promise<void> {
  await run('taskset', ['--all-tasks', '--pid', '--cpu-list', cpus, String(pid)]);
  let now: number[];
  try {
    now = cpusOf(pid);
  } catch (error) {
    throw new Error(`taskset could not pin pid ${pid}: ${(error as Error).message}`);
  }
  if (formatCpuList(now) !== formatCpuList(parseCpuList(cpus)))
    throw new Error(`taskset left pid ${pid} on CPU ${formatCpuList(now)}, not ${cpus}`);
}
