/** One version of a model registry, with what its files say about it. */
export interface ModelVersionInfo {
  /** Local: the directory name; Hub: the commit id (40 hex). */
  id: string;
  /** Local: absolute directory; Hub: `hf://models/<owner>/<name>@<commit>`. */
  location: string;
  source: 'local' | 'hub';
  /** Hub: the branch whose head it is (e.g. candidate-fp32-abc..., main). */
  branch?: string;
  /** Provenance createdAt, else the commit date (Hub) or the directory's mtime (local). */
  createdAt: string | null;
  /** `fp32-<sha12 of onnx/model.onnx>` (Hub: from the LFS sha256 in the tree, no download). */
  modelVersion: string | null;
  /** config.json's `retrain` block, when present. */
  provenance: unknown | null;
  /** gate-report.json, when present and readable. */
  gate: GateSummary | null;
}

export { GATE_REPORT_FILE, parseGateReport } from '@reputation-monitor/contracts';
import type { GateSummary } from '@reputation-monitor/contracts';
export type { GateSummary };
export const CONFIG_FILE = 'config.json';
/** Where the fp32 graph may be, in the order the worker looks (model-runtime's MODEL_FILE_CANDIDATES). */
export const FP32_GRAPHS = ['onnx/model.onnx', 'model.onnx'] as const;
export const GRAPHS_BY_VARIANT = {
  fp32: FP32_GRAPHS,
  int8: ['onnx/model_quantized.onnx', 'model_quantized.onnx'],
} as const;

/** The version the worker reports for an fp32 graph with this sha256 (hex). */
export function fp32Version(sha256Hex: string): string {
  return `fp32-${sha256Hex.slice(0, 12).toLowerCase()}`;
}

/** config.json's `retrain` block (the provenance tools/retrain writes), or null. */
export function provenanceOf(configText: string | undefined): unknown | null {
  if (configText === undefined) return null;
  try {
    const config = JSON.parse(configText) as { retrain?: unknown } | null;
    return typeof config === 'object' && config !== null && config.retrain !== undefined
      ? config.retrain
      : null;
  } catch {
    return null;
  }
}

/** The provenance's createdAt when it is a date. */
export function provenanceCreatedAt(provenance: unknown): string | null {
  const createdAt = (provenance as { createdAt?: unknown } | null)?.createdAt;
  return typeof createdAt === 'string' && !Number.isNaN(Date.parse(createdAt)) ? createdAt : null;
}

/** Newest first; versions without a date last; then by id, so the order is stable. */
export function newestFirst(a: ModelVersionInfo, b: ModelVersionInfo): number {
  const at = (info: ModelVersionInfo) => (info.createdAt === null ? -Infinity : Date.parse(info.createdAt));
  const difference = at(b) - at(a);
  if (difference !== 0 && !Number.isNaN(difference)) return difference;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
