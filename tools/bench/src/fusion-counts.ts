/**
 * Which fused kernels ONNX Runtime runs for a graph: the session optimizes it at level "all" and saves the
 * result once (optimizedModelFilePath), and the op types of that saved graph are counted. Only the counting
 * and the table are pure; see fusions.ts for the command.
 */
import { rm } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { readModelStructure, type ModelProto } from '@reputation-monitor/onnx-graph';
import { markdownTable } from './report';

/** The op types a transformer graph's speed hangs on, in the order the table lists them first. */
export const FUSED_OP_TYPES = [
  'Attention',
  'MultiHeadAttention',
  'EmbedLayerNormalization',
  'SkipLayerNormalization',
  'LayerNormalization',
  'BiasGelu',
  'FastGelu',
  'Gelu',
  'FusedMatMul',
  'FusedGemm',
  'DynamicQuantizeMatMul',
  'MatMulIntegerToFloat',
  'MatMulInteger',
  'DynamicQuantizeLinear',
  'MatMul',
  'Gemm',
] as const;

export type OpCounts = Record<string, number>;

export function countOpTypes(model: ModelProto): OpCounts {
  const counts: OpCounts = {};
  for (const node of model.graph.nodes) counts[node.opType] = (counts[node.opType] ?? 0) + 1;
  return counts;
}

export interface GraphCounts {
  label: string;
  path: string;
  /** Nodes of the graph as stored, and of the graph ONNX Runtime runs. */
  before: OpCounts;
  after: OpCounts;
}

/**
 * Optimizes `path` as the worker's session would (level "all", CPU) and counts the saved graph's op types.
 * The optimized file is written next to `scratchPath` and removed afterwards.
 */
export async function optimizedOpCounts(
  label: string,
  path: string,
  scratchPath: string,
): Promise<GraphCounts> {
  const session = await ort.InferenceSession.create(path, {
    graphOptimizationLevel: 'all',
    optimizedModelFilePath: scratchPath,
    intraOpNumThreads: 1,
    // ORT warns that an "all"-level file is tied to this machine: it is only read here, once.
    logSeverityLevel: 3,
  });
  await session.release();
  try {
    return {
      label,
      path,
      before: countOpTypes(await readModelStructure(path)),
      after: countOpTypes(await readModelStructure(scratchPath)),
    };
  } finally {
    await rm(scratchPath, { force: true });
  }
}

/** Listed even where no graph has them: a fusion that did not happen is a finding too. */
const ALWAYS_LISTED = new Set<string>([
  'Attention',
  'EmbedLayerNormalization',
  'SkipLayerNormalization',
  'LayerNormalization',
  'BiasGelu',
]);

const total = (counts: OpCounts) => Object.values(counts).reduce((sum, count) => sum + count, 0);

/**
 * One row per op type of any optimized graph (the FUSED_OP_TYPES first, then by count), one column per
 * graph; a blank cell is none. The last row counts all nodes, as optimized and as stored.
 */
export function opCountTable(graphs: readonly GraphCounts[]): string {
  const present = new Set(graphs.flatMap((graph) => Object.keys(graph.after)));
  const ordered: string[] = FUSED_OP_TYPES.filter((op) => present.has(op) || ALWAYS_LISTED.has(op));
  const rest = [...present]
    .filter((op) => !ordered.includes(op))
    .sort((a, b) => {
      const sum = (op: string) => graphs.reduce((acc, graph) => acc + (graph.after[op] ?? 0), 0);
      return sum(b) - sum(a) || a.localeCompare(b);
    });
  const rows = [...ordered, ...rest].map((op) => [
    op,
    ...graphs.map((graph) => (graph.after[op] ? String(graph.after[op]) : '')),
  ]);
  rows.push([
    'all nodes (as stored)',
    ...graphs.map((graph) => `${total(graph.after)} (${total(graph.before)})`),
  ]);
  return markdownTable(['op type', ...graphs.map((graph) => graph.label)], rows);
}
