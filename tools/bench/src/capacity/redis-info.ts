/**
 * Redis's own accounting, read with INFO: CPU time, commands (per command, from `commandstats`), network
 * bytes and memory; and the difference of two readings, which is what a measurement window cost Redis.
 */

/** `INFO` text -> field -> value. Section headers (`# CPU`) and blank lines are skipped. */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

export interface CommandStat {
  calls: number;
  /** Microseconds Redis spent executing the command (a script's time includes the commands it calls). */
  usec: number;
}

/**
 * `cmdstat_<name>:calls=…,usec=…,…` lines -> command name (lower case; subcommands as Redis names them,
 * `config|resetstat`) -> calls and usec. Commands a Lua script calls are counted here too, besides the
 * EVALSHA that ran the script.
 */
export function parseCommandStats(fields: ReadonlyMap<string, string>): Record<string, CommandStat> {
  const stats: Record<string, CommandStat> = {};
  for (const [key, value] of fields) {
    if (!key.startsWith('cmdstat_')) continue;
    const parts = new Map(
      value.split(',').map((pair) => {
        const eq = pair.indexOf('=');
        return [pair.slice(0, eq), pair.slice(eq + 1)] as const;
      }),
    );
    const calls = Number(parts.get('calls'));
    const usec = Number(parts.get('usec'));
    if (!Number.isFinite(calls)) continue;
    stats[key.slice('cmdstat_'.length).toLowerCase()] = { calls, usec: Number.isFinite(usec) ? usec : 0 };
  }
  return stats;
}

/** The INFO figures a capacity window needs, at one instant. */
export interface RedisReading {
  /** used_cpu_sys + used_cpu_user: CPU seconds of the whole redis-server process since it started. */
  cpuSeconds: number;
  /** used_cpu_sys_main_thread + used_cpu_user_main_thread (Redis 6.2+), the single thread that runs commands. */
  mainThreadCpuSeconds?: number;
  /** total_commands_processed: every command executed, those a Lua script calls included. */
  commandsProcessed: number;
  netInputBytes: number;
  netOutputBytes: number;
  /** total_reads_processed (Redis 6+): read events, about one per client round trip (a pipeline is one). */
  readsProcessed?: number;
  usedMemoryBytes: number;
  connectedClients: number;
  commands: Record<string, CommandStat>;
}

function numberField(fields: ReadonlyMap<string, string>, name: string): number | undefined {
  const value = fields.get(name);
  if (value === undefined) return undefined;
  const number = Number(value);
  return Number.isFinite(number) ? number : undefined;
}

function required(fields: ReadonlyMap<string, string>, name: string): number {
  const value = numberField(fields, name);
  if (value === undefined) throw new Error(`INFO has no numeric ${name}`);
  return value;
}

/** Reads the figures from the output of `INFO everything` (or `INFO cpu stats memory clients commandstats`). */
export function readingFromInfo(text: string): RedisReading {
  const fields = parseInfo(text);
  const mainSys = numberField(fields, 'used_cpu_sys_main_thread');
  const mainUser = numberField(fields, 'used_cpu_user_main_thread');
  const reads = numberField(fields, 'total_reads_processed');
  return {
    cpuSeconds: required(fields, 'used_cpu_sys') + required(fields, 'used_cpu_user'),
    ...(mainSys !== undefined && mainUser !== undefined && { mainThreadCpuSeconds: mainSys + mainUser }),
    commandsProcessed: required(fields, 'total_commands_processed'),
    netInputBytes: required(fields, 'total_net_input_bytes'),
    netOutputBytes: required(fields, 'total_net_output_bytes'),
    ...(reads !== undefined && { readsProcessed: reads }),
    usedMemoryBytes: required(fields, 'used_memory'),
    connectedClients: numberField(fields, 'connected_clients') ?? 0,
    commands: parseCommandStats(fields),
  };
}

/**
 * What happened between two readings: each figure's change (memory: of used_memory, may be negative); `commands`
 * only those whose call count changed, with the calls and usec of the window.
 */
export type RedisDelta = Omit<RedisReading, 'connectedClients'>;

/**
 * Commands the capacity tool itself sends around and between its windows (readings, key scans, the
 * in-flight sampler), left out of the per-job command figures.
 */
export const OWN_COMMANDS: ReadonlySet<string> = new Set([
  'info',
  'config|resetstat',
  'scan',
  'memory|usage',
  'monitor',
  'client|setname',
  'client|id',
  'client|info',
  'lrange',
  'zcard',
]);

export function readingDelta(before: RedisReading, after: RedisReading): RedisDelta {
  const commands: Record<string, CommandStat> = {};
  for (const [name, stat] of Object.entries(after.commands)) {
    const previous = before.commands[name] ?? { calls: 0, usec: 0 };
    const calls = stat.calls - previous.calls;
    if (calls <= 0) continue;
    commands[name] = { calls, usec: Math.max(0, stat.usec - previous.usec) };
  }
  const optional = (a?: number, b?: number) => (a !== undefined && b !== undefined ? b - a : undefined);
  const mainThread = optional(before.mainThreadCpuSeconds, after.mainThreadCpuSeconds);
  const reads = optional(before.readsProcessed, after.readsProcessed);
  return {
    cpuSeconds: after.cpuSeconds - before.cpuSeconds,
    ...(mainThread !== undefined && { mainThreadCpuSeconds: mainThread }),
    commandsProcessed: after.commandsProcessed - before.commandsProcessed,
    netInputBytes: after.netInputBytes - before.netInputBytes,
    netOutputBytes: after.netOutputBytes - before.netOutputBytes,
    ...(reads !== undefined && { readsProcessed: reads }),
    usedMemoryBytes: after.usedMemoryBytes - before.usedMemoryBytes,
    commands,
  };
}

/** Lua script calls: how BullMQ does almost all of its work (one EVALSHA per add, fetch, completion …). */
export const SCRIPT_COMMANDS: ReadonlySet<string> = new Set([
  'evalsha',
  'eval',
  'evalsha_ro',
  'eval_ro',
  'fcall',
  'fcall_ro',
]);

export interface CommandsPerJob {
  /** Every command executed (those inside Lua scripts included), the tool's own left out. */
  all: number;
  /** Script calls (EVALSHA …). */
  scripts: number;
  /** Per command, sorted by calls, most first. */
  byCommand: Array<{ command: string; perJob: number; usecPerJob: number }>;
}

/** Commands per job of a window; `jobs` > 0. */
export function commandsPerJob(delta: RedisDelta, jobs: number): CommandsPerJob {
  const rows = Object.entries(delta.commands)
    .filter(([name]) => !OWN_COMMANDS.has(name))
    .map(([command, stat]) => ({ command, perJob: stat.calls / jobs, usecPerJob: stat.usec / jobs }))
    .sort((a, b) => b.perJob - a.perJob || a.command.localeCompare(b.command));
  return {
    all: rows.reduce((sum, row) => sum + row.perJob, 0),
    scripts: rows.filter((row) => SCRIPT_COMMANDS.has(row.command)).reduce((sum, row) => sum + row.perJob, 0),
    byCommand: rows,
  };
}
