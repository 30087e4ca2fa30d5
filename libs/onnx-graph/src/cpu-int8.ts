/**
 * Which 8-bit weight type runs fastest on this CPU, from its feature flags.
 *
 * ONNX Runtime's int8 matrix kernels (MLAS) multiply uint8 activations (DynamicQuantizeLinear always makes
 * uint8) by the weights. With signed int8 weights, a CPU with VNNI or AMX does that with one dot-product
 * instruction (vpdpbusd, tdpbusd); uint8 weights take the u8 × u8 kernel, which widens to 16 bits first and
 * ran at about half the speed on the base model (README, Benchmarks). Without VNNI, the AVX2 u8 × s8 kernel
 * (vpmaddubsw) adds pairs of products into a saturating int16, so full-range int8 weights can give wrong
 * sums there: uint8 is the exact, portable choice.
 */
import { readFileSync } from 'node:fs';
import type { WeightType } from './quantize';

/** CPU flags (as /proc/cpuinfo spells them) that give ONNX Runtime a fast u8 × s8 kernel. */
export const INT8_DOT_PRODUCT_FLAGS = ['avx512_vnni', 'avx_vnni', 'amx_int8'] as const;

/**
 * The measured speed of int8 over uint8 weights on the base model (README, Benchmarks), for messages: VNNI CPUs
 * measured 1.7-2.0x; a CPU with AMX (whose tile instructions MLAS uses for u8 x s8) measured 3.0x.
 */
export function measuredInt8Speedup(cpu: Pick<CpuFeatures, 'int8Flags'>): string {
  return cpu.int8Flags.includes('amx_int8') ? '3.0x (with AMX)' : '1.7-2.0x';
}

export interface CpuFeatures {
  /** Every flag of the first processor, or undefined when none could be read. */
  flags?: string[];
  /** The INT8_DOT_PRODUCT_FLAGS among them. */
  int8Flags: string[];
  /** Where the flags came from, or why there are none. */
  source: string;
}

/** The flags of the first processor in /proc/cpuinfo text (x86 `flags`; ARM's `Features` name no VNNI). */
export function parseCpuFlags(cpuinfo: string): string[] | undefined {
  const line = /^flags\s*:(.*)$/m.exec(cpuinfo);
  return line ? line[1].trim().split(/\s+/).filter(Boolean) : undefined;
}

export function cpuFeaturesFrom(cpuinfo: string | undefined, source: string): CpuFeatures {
  const flags = cpuinfo === undefined ? undefined : parseCpuFlags(cpuinfo);
  const present = new Set(flags);
  return {
    ...(flags && { flags }),
    int8Flags: INT8_DOT_PRODUCT_FLAGS.filter((flag) => present.has(flag)),
    source: flags ? source : cpuinfo === undefined ? source : `${source} (no flags line)`,
  };
}

/** This machine's flags: /proc/cpuinfo on Linux; elsewhere none (Node has no portable way to read them). */
export function readCpuFeatures(
  platform: NodeJS.Platform = process.platform,
  read: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): CpuFeatures {
  if (platform !== 'linux') return cpuFeaturesFrom(undefined, `no CPU flags on ${platform}`);
  try {
    return cpuFeaturesFrom(read('/proc/cpuinfo'), '/proc/cpuinfo');
  } catch (error) {
    return cpuFeaturesFrom(undefined, `/proc/cpuinfo unreadable: ${(error as Error).message}`);
  }
}

export interface WeightTypeChoice {
  weightType: WeightType;
  /** One sentence: which and why. */
  reason: string;
}

/** `--weight-type auto`: signed int8 where the CPU has a VNNI/AMX dot product, uint8 elsewhere. */
export function chooseWeightType(cpu: CpuFeatures): WeightTypeChoice {
  if (cpu.int8Flags.length > 0) {
    return {
      weightType: 'int8',
      reason:
        `the CPU has ${cpu.int8Flags.join(', ')} (from ${cpu.source}): ONNX Runtime's u8 x s8 dot-product ` +
        `kernel is exact there and ran ${measuredInt8Speedup(cpu)} as fast as uint8 weights on the base model`,
    };
  }
  const why = cpu.flags
    ? `the CPU lists none of ${INT8_DOT_PRODUCT_FLAGS.join(', ')} (from ${cpu.source})`
    : `there are no CPU flags to go by (${cpu.source})`;
  return {
    weightType: 'uint8',
    reason: `${why}: uint8 weights are exact on every CPU, while int8 can saturate in the AVX2 kernel without VNNI`,
  };
}

/** True when a graph's weights are the slow kind for this CPU: uint8 where VNNI/AMX makes int8 fast. */
export function isSlowWeightTypeFor(weightType: string, cpu: CpuFeatures): boolean {
  return cpu.int8Flags.length > 0 && (weightType === 'uint8' || weightType === 'mixed');
}
