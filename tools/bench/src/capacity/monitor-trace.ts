/**
 * Which commands a job costs, told apart by who sends them: the commands clients send (round trips,
 * pipelines aside) and those Lua scripts run inside Redis, from MONITOR's stream of every command; and
 * which BullMQ script each EVALSHA runs, by the SHA1 of the script's source.
 */
import { createHash } from 'node:crypto';

/** One MONITOR line as ioredis reports it: the command and its arguments, and `lua` or the client's ip:port. */
export interface MonitorEvent {
  args: readonly string[];
  source: string;
}

/** SHA1 of a Lua script's source: the name EVALSHA calls it by (ioredis's defineCommand does the same). */
export const scriptSha = (source: string) => createHash('sha1').update(source).digest('hex');

/** SHA1 -> script name, for scripts given by name and source (BullMQ's `scripts` module). */
export function scriptNamesBySha(scripts: Iterable<{ name: string; content: string }>): Map<string, string> {
  const names = new Map<string, string>();
  for (const { name, content } of scripts) names.set(scriptSha(content), name);
  return names;
}

export interface TraceSummary {
  jobs: number;
  /** Commands sent by clients per job (an EVALSHA counts once here). */
  clientCommandsPerJob: number;
  /** Commands run inside Lua scripts per job. */
  scriptCommandsPerJob: number;
  /** Per command: how often per job clients sent it and scripts ran it, most frequent first. */
  byCommand: Array<{ command: string; client: number; script: number }>;
  /**
   * Per script (BullMQ's name where known, else `sha <first 8 hex>`): calls per job, the commands it ran per
   * call and which (most frequent first). MONITOR shows a script's call right before the commands it runs.
   */
  scripts: Array<{ script: string; perJob: number; commandsPerCall: number; commands: string[] }>;
}

const LUA_SOURCE = 'lua';

/** The name of the script an EVALSHA (by its SHA1) or EVAL (by its source's) runs; undefined for other commands. */
function scriptName(command: string, arg: string | undefined, shaNames: ReadonlyMap<string, string>) {
  if (arg === undefined) return undefined;
  let sha: string;
  if (command === 'evalsha' || command === 'evalsha_ro') sha = String(arg).toLowerCase();
  else if (command === 'eval' || command === 'eval_ro') sha = scriptSha(String(arg));
  else return undefined;
  return (
    shaNames.get(sha) ?? `${command === 'eval' || command === 'eval_ro' ? 'EVAL' : 'sha'} ${sha.slice(0, 8)}`
  );
}

/**
 * Sums a MONITOR trace over `jobs` jobs. Events from `ignoreSources` (the tool's own connections) are left
 * out. Subcommands are named like commandstats names them (`client|setname`) only for the first word.
 */
export function summarizeTrace(
  events: readonly MonitorEvent[],
  jobs: number,
  shaNames: ReadonlyMap<string, string>,
  ignoreSources: ReadonlySet<string> = new Set(),
): TraceSummary {
  if (!(jobs > 0)) throw new Error('a trace needs at least one job');
  const perCommand = new Map<string, { client: number; script: number }>();
  const perScript = new Map<string, { calls: number; inner: Map<string, number> }>();
  let client = 0;
  let script = 0;
  /** The script whose commands MONITOR is showing now (a script runs to its end before anything else). */
  let current: { calls: number; inner: Map<string, number> } | undefined;
  for (const event of events) {
    if (ignoreSources.has(event.source) || event.args.length === 0) continue;
    const command = String(event.args[0]).toLowerCase();
    const fromScript = event.source === LUA_SOURCE;
    const counts = perCommand.get(command) ?? { client: 0, script: 0 };
    if (fromScript) {
      counts.script++;
      script++;
      if (current) current.inner.set(command, (current.inner.get(command) ?? 0) + 1);
    } else {
      counts.client++;
      client++;
      current = undefined;
      const name = scriptName(command, event.args[1], shaNames);
      if (name) {
        current = perScript.get(name) ?? { calls: 0, inner: new Map() };
        current.calls++;
        perScript.set(name, current);
      }
    }
    perCommand.set(command, counts);
  }
  return {
    jobs,
    clientCommandsPerJob: client / jobs,
    scriptCommandsPerJob: script / jobs,
    byCommand: [...perCommand]
      .map(([command, counts]) => ({ command, client: counts.client / jobs, script: counts.script / jobs }))
      .sort((a, b) => b.client + b.script - (a.client + a.script) || a.command.localeCompare(b.command)),
    scripts: [...perScript]
      .map(([name, { calls, inner }]) => ({
        script: name,
        perJob: calls / jobs,
        commandsPerCall: [...inner.values()].reduce((sum, n) => sum + n, 0) / calls,
        commands: [...inner]
          .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
          .map(([command]) => command),
      }))
      .sort((a, b) => b.perJob - a.perJob || a.script.localeCompare(b.script)),
  };
}
