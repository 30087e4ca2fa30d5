/** What the figures were measured on. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { MachineInfo } from './results';

function packageVersion(root: string, name: string): string | undefined {
  try {
    return (
      JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
  } catch {
    return undefined;
  }
}

/** `Model name:` of lscpu, or Node's idea of the CPU model where lscpu is missing. */
export function cpuModel(lscpuOutput?: string): string {
  const fromLscpu = lscpuOutput && /^Model name:\s*(.+)$/m.exec(lscpuOutput)?.[1]?.trim();
  return fromLscpu || cpus()[0]?.model?.trim() || 'unknown CPU';
}

export function describeMachine(root: string): MachineInfo {
  let lscpu: string | undefined;
  try {
    lscpu = execFileSync('lscpu', { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
  } catch {
    lscpu = undefined;
  }
  return {
    cpuModel: cpuModel(lscpu),
    cores: cpus().length,
    node: process.version,
    onnxruntime: packageVersion(root, 'onnxruntime-node') ?? 'unknown',
    transformersJs: packageVersion(root, '@huggingface/transformers'),
    loadAverageAtStart: loadavg(),
  };
}
