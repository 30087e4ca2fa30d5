import { createHash } from 'node:crypto';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export const sha256 = (content: Buffer) => createHash('sha256').update(content).digest('hex');

/** The version the worker (and the gate) name an fp32 graph by. */
export const versionOf = (graph: Buffer) => `fp32-${sha256(graph).slice(0, 12)}`;

/** A gate report as tools/retrain's gate writes it (the fields the registry reads, and a few more). */
export function gateReport(
  candidateVersion: string,
  verdict: 'pass' | 'fail' = 'pass',
  createdAt = '2026-03-01T10:00:00.000Z',
): Buffer {
  const reasons =
    verdict === 'pass'
      ? ['holdout macro recall +0.031 (p 0.0021)', 'golden macro recall -0.002']
      : ['holdout macro recall +0.004 is below the minimum gain 0.010'];
  return Buffer.from(
    `${JSON.stringify(
      {
        verdict,
        reasons,
        createdAt,
        thresholds: { minGain: 0.01, maxP: 0.01, maxRegression: 0.01, permutations: 10_000, seed: 1 },
        variant: 'fp32',
        champion: { dir: '/models/champion', version: 'fp32-000000000000' },
        candidate: { dir: '/models/candidate', version: candidateVersion, provenance: null },
      },
      null,
      2,
    )}\n`,
  );
}

export interface ModelSpec {
  /** The fp32 graph's bytes (distinct bytes, distinct version). */
  graph: Buffer;
  /** config.json's `retrain` block. */
  retrain?: Record<string, unknown>;
  /** gate-report.json's content. */
  gate?: Buffer;
  int8?: boolean;
}

/** The files of a model directory in the optimum export layout. */
export function modelFiles(spec: ModelSpec): Record<string, Buffer> {
  const config = {
    model_type: 'roberta',
    id2label: { 0: 'negative', 1: 'neutral', 2: 'positive' },
    ...(spec.retrain && { retrain: spec.retrain }),
  };
  return {
    'onnx/model.onnx': spec.graph,
    ...(spec.int8 && { 'onnx/model_quantized.onnx': Buffer.concat([Buffer.from('int8'), spec.graph]) }),
    'config.json': Buffer.from(JSON.stringify(config)),
    'tokenizer.json': Buffer.from('{"model":{"type":"BPE"}}'),
    'tokenizer_config.json': Buffer.from('{"model_max_length":512}'),
    ...(spec.gate && { 'gate-report.json': spec.gate }),
  };
}

/** Writes a model directory; `mtime` sets the directory's modification time (its date without provenance). */
export async function writeModelDir(dir: string, spec: ModelSpec, mtime?: Date): Promise<string> {
  for (const [path, content] of Object.entries(modelFiles(spec))) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  if (mtime) await utimes(dir, mtime, mtime);
  return dir;
}

/** Graph bytes that differ per seed. */
export const graphBytes = (seed: number, size = 4096) =>
  Buffer.concat([Buffer.from(`graph-${seed}-`), Buffer.alloc(size, seed)]);
