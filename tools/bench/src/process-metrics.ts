/**
 * CPU and memory of the processes a scenario involves, read from /proc: CPU as process CPU time over
 * wall time (1.0 = one core busy for the whole window; 2.0 = both cores of this machine), and the
 * peak resident set size sampled during the window.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** The processes of a scenario, by role. `bench` is the process that drives the load (or runs the model). */
export type ProcessRole = 'bench' | 'gateway' | 'worker' | 'redis';
export const PROCESS_ROLES: readonly ProcessRole[] = ['bench', 'gateway', 'worker', 'redis'];

export interface ProcessUsage {
  /** CPU seconds per wall second over the window. */
  cpuCores: number;
  /** Largest resident set size sampled during the window, in MiB. */
  peakRssMb: number;
}

export interface ProcStat {
  /** User plus system CPU time of the whole process (all threads), in clock ticks. */
  cpuTicks: number;
}

/** Parses /proc/<pid>/stat. The command name may hold spaces and parentheses, so fields are counted after the last ')'. */
export function parseProcStat(text: string): ProcStat {
  const end = text.lastIndexOf(')');
  if (end < 0) throw new Error('not a /proc/<pid>/stat line');
  // After the name: field 3 (state) is index 0, so utime (field 14) is index 11 and stime (15) index 12.
  const fields = text
    .slice(end + 2)
    .trim()
    .split(/\s+/);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('no utime/stime in stat line');
  return { cpuTicks: utime + stime };
}

/**
 * Busy CPU time of the whole machine from the first line of /proc/stat, in clock ticks: user, nice,
 * system, irq, softirq and steal (time the hypervisor gave to other guests), summed over all cores.
 */
export function parseMachineBusyTicks(procStat: string): number {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('no cpu line in /proc/stat');
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return [user, nice, system, irq, softirq, steal ?? 0].reduce((sum, value) => sum + (value || 0), 0);
}

/** Resident set size in KiB from /proc/<pid>/status (the `VmRSS:` line). */
export function parseVmRssKb(status: string): number | undefined {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return match ? Number(match[1]) : undefined;
}

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

function readCpuSeconds(pid: number): number | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).cpuTicks / clockTicks();
  } catch {
    return undefined; // gone, or not ours to read
  }
}

function readMachineBusySeconds(): number | undefined {
  try {
    return parseMachineBusyTicks(readFileSync('/proc/stat', 'utf8')) / clockTicks();
  } catch {
    return undefined;
  }
}

function readRssMb(pid: number): number | undefined {
  try {
    const kb = parseVmRssKb(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return kb === undefined ? undefined : kb / 1024;
  } catch {
    return undefined;
  }
}

export interface WindowUsage {
  processes: Partial<Record<ProcessRole, ProcessUsage>>;
  /**
   * CPU the rest of the machine used meanwhile, in cores: other processes (other people's tests and
   * builds) and hypervisor steal. Figures measured while this is high are disturbed.
   */
  otherCpuCores?: number;
}

/**
 * Watches processes over one measurement window: CPU time at start and stop, resident memory sampled
 * every `intervalMs` (the sampler runs on this process's event loop, which stays free while the
 * scenarios await I/O or ONNX Runtime's own threads).
 */
export class ProcessMonitor {
  private readonly startCpu = new Map<ProcessRole, number>();
  private readonly peakRss = new Map<ProcessRole, number>();
  private startedAt = 0;
  private machineBusyAtStart: number | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pids: Partial<Record<ProcessRole, number | undefined>>,
    private readonly intervalMs = 100,
  ) {}

  start(): this {
    this.startedAt = performance.now();
    this.machineBusyAtStart = readMachineBusySeconds();
    for (const [role, pid] of this.entries()) {
      const cpu = readCpuSeconds(pid);
      if (cpu !== undefined) this.startCpu.set(role, cpu);
    }
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  stop(): WindowUsage {
    if (this.timer) clearInterval(this.timer);
    this.sample();
    const wallSeconds = (performance.now() - this.startedAt) / 1000;
    const machineBusy = readMachineBusySeconds();
    const usage: Partial<Record<ProcessRole, ProcessUsage>> = {};
    for (const [role, pid] of this.entries()) {
      const before = this.startCpu.get(role);
      const after = readCpuSeconds(pid);
      if (before === undefined || after === undefined || wallSeconds <= 0) continue;
      usage[role] = { cpuCores: (after - before) / wallSeconds, peakRssMb: this.peakRss.get(role) ?? NaN };
    }
    const ours = Object.values(usage).reduce((sum, process) => sum + process.cpuCores, 0);
    const otherCpuCores =
      machineBusy !== undefined && this.machineBusyAtStart !== undefined && wallSeconds > 0
        ? Math.max(0, (machineBusy - this.machineBusyAtStart) / wallSeconds - ours)
        : undefined;
    return { processes: usage, otherCpuCores };
  }

  private sample(): void {
    for (const [role, pid] of this.entries()) {
      const rss = readRssMb(pid);
      if (rss !== undefined) this.peakRss.set(role, Math.max(rss, this.peakRss.get(role) ?? 0));
    }
  }

  private entries(): Array<[ProcessRole, number]> {
    return Object.entries(this.pids).filter(
      (entry): entry is [ProcessRole, number] => typeof entry[1] === 'number',
    );
  }
}
