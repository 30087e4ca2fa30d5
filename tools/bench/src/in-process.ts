/**
 * Scenarios that run a model inside the benchmark (raw ONNX Runtime, the seed's way, transformers.js)
 * each run in a fresh child process, so one's memory and threads never weigh on the next and its CPU
 * and peak RSS are its own.
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { pinnedCommand } from '@reputation-monitor/app-harness';
import type { Measurement } from './results';
import type { PeerTask } from './scenarios/peer';
import type { BatchOfOneTask, CostTask, RawTask } from './scenarios/raw';
import type { TokenizerTask } from './scenarios/tokenizer';
import type { WeightsTask } from './scenarios/weights';

export type InProcessTask = (
  | ({ kind: 'raw' } & RawTask)
  | ({ kind: 'cost' } & CostTask)
  | ({ kind: 'batch-of-one' } & BatchOfOneTask)
  | ({ kind: 'peer' } & PeerTask)
  | ({ kind: 'weights' } & WeightsTask)
  | ({ kind: 'tokenizer' } & TokenizerTask)
) & {
  /** `--model-cpus`: the CPUs the child is confined to (taskset list). */
  cpus?: string;
};

export type ChildReply = { ok: true; measurements: Measurement[] } | { ok: false; error: string };

/** Runs one task in a child Node process (same tsx loader and tsconfig as this one) and returns its rows. */
export function runInChild(task: InProcessTask): Promise<Measurement[]> {
  return new Promise((resolve, reject) => {
    // Pinned, the child is `taskset --cpu-list CPUS node <flags> child.ts`: fork runs execPath with execArgv.
    const [execPath, execArgv] = task.cpus
      ? pinnedCommand(task.cpus, process.execPath, process.execArgv)
      : [process.execPath, process.execArgv];
    const child = fork(join(__dirname, 'in-process-child.ts'), [], {
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      execPath,
      execArgv,
    });
    let stderr = '';
    let reply: ChildReply | undefined;
    child.stderr?.on('data', (chunk) => (stderr += chunk));
    child.on('message', (message: ChildReply) => (reply = message));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (reply?.ok) resolve(reply.measurements);
      else if (reply) reject(new Error(reply.error));
      else
        reject(
          new Error(`benchmark child exited with ${code ?? signal} and no result:\n${stderr.slice(-2000)}`),
        );
    });
    child.send(task);
  });
}
