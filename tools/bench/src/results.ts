/** What every scenario reports, and the file the benchmark writes. */
import type { ProfileSummary } from './cpu-profile';
import type { ProcessRole, ProcessUsage } from './process-metrics';
import type { LatencySummary } from './stats';

export type Variant = 'fp32' | 'int8';

/** One row of the results table. */
export interface Measurement {
  /** Unique in a round of a run, e.g. `raw-b16:fp32`. */
  id: string;
  /** Which round of `--rounds` measured it (1-based; absent in single-round runs). */
  round?: number;
  scenario: string;
  variant: Variant;
  label: string;
  status: 'ok' | 'skipped' | 'failed';
  /** Why it was skipped or failed, or a short remark on the figures. */
  note?: string;
  texts?: number;
  /** Real (unpadded) tokens of those texts. */
  tokens?: number;
  seconds?: number;
  textsPerSecond?: number;
  tokensPerSecond?: number;
  latencyMs?: LatencySummary;
  /** What one latency sample is: an HTTP or producer request, one model run (a batch), a pipeline call. */
  latencyOf?: 'request' | 'run' | 'call';
  /** Share of pad tokens in what the model computed. */
  paddingRatio?: number;
  processes?: Partial<Record<ProcessRole, ProcessUsage>>;
  /** CPU used by everything else on the machine during the window, in cores (see ProcessMonitor). */
  otherCpuCores?: number;
  /** Scenario-specific figures (status counts, cache hits, model busy ratio ...). */
  extra?: Record<string, number | string | boolean>;
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  /** The CPU's SIMD flags (SSE4/AVX/AVX-512/AMX/VNNI …) as /proc/cpuinfo lists them; absent where unknown. */
  cpuFlags?: string[];
  /** Those that give ONNX Runtime a fast int8 dot product (avx512_vnni, avx_vnni, amx_int8). */
  int8DotProduct?: string[];
  cpuFlagsSource?: string;
  node: string;
  onnxruntime: string;
  transformersJs?: string;
  loadAverageAtStart: number[];
  loadAverageAtEnd?: number[];
}

export interface RatioCheck {
  name: string;
  value?: number;
  unit: 'ratio' | 'ms' | 'count';
  /** What `value` must reach, e.g. ">= 0.90". */
  target?: string;
  met?: boolean;
  detail?: string;
}

export interface BenchResults {
  startedAt: string;
  finishedAt?: string;
  machine: MachineInfo;
  settings: Record<string, unknown>;
  /** Every row of every round. */
  measurements: Measurement[];
  /** The comparisons (with `--rounds`, each from the round with its median value). */
  checks: RatioCheck[];
  /** With `--rounds`: per measurement, the row of the round with the median rate (what the report shows). */
  medians?: Measurement[];
  /** `--profile`: the gateway's and the worker's CPU profiles, summarized. */
  profiles?: ProfileSummary[];
}

export function skipped(
  base: Pick<Measurement, 'id' | 'scenario' | 'variant' | 'label'>,
  note: string,
): Measurement {
  return { ...base, status: 'skipped', note };
}

export function failed(
  base: Pick<Measurement, 'id' | 'scenario' | 'variant' | 'label'>,
  error: unknown,
): Measurement {
  const message = error instanceof Error ? error.message : String(error);
  return { ...base, status: 'failed', note: message.split('\n')[0].slice(0, 300) };
}
