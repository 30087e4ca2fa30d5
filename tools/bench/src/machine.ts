/** What the figures were measured on. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { readCpuFeatures } from '@reputation-monitor/onnx-graph';
import type { MachineInfo } from './results';

/** The flags that matter to ONNX Runtime's kernels: SSE4, AVX, FMA, F16C, AVX-512, VNNI, AMX. */
export function simdFlags(flags: readonly string[]): string[] {
  return flags.filter((flag) => /^(sse4_[12]|avx|fma|f16c|amx)/.test(flag));
}

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
  const cpu = readCpuFeatures();
  return {
    cpuModel: cpuModel(lscpu),
    cores: cpus().length,
    ...(cpu.flags && { cpuFlags: simdFlags(cpu.flags) }),
    int8DotProduct: cpu.int8Flags,
    cpuFlagsSource: cpu.source,
    node: process.version,
    onnxruntime: packageVersion(root, 'onnxruntime-node') ?? 'unknown',
    transformersJs: packageVersion(root, '@huggingface/transformers'),
    loadAverageAtStart: loadavg(),
  };
}
