import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceSession } from 'onnxruntime-node';
import { readModelStructure, writeModelFile } from '@reputation-monitor/onnx-graph';
import { PRESETS } from './presets';
import { buildRobertaGraph, type GraphLayout } from './roberta-graph';

/**
 * What ONNX Runtime (level "all", CPU) makes of each export layout: the finding of
 * docs/adr/0005-representative-synthetic-graph.md. A failure after an onnxruntime-node upgrade means the
 * fusions changed: rerun `npm run bench:fusions` and update the ADR and README's figures.
 */
describe('the fusions ONNX Runtime applies to the export layouts', () => {
  let workDir: string;
  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'fusions-'));
  });
  afterAll(() => rm(workDir, { recursive: true, force: true }));

  async function optimizedOps(layout: GraphLayout): Promise<Record<string, number>> {
    const graph = buildRobertaGraph(PRESETS.tiny, 7, layout);
    const model = graph.classifierModel({ weight: graph.initialOutputProjection, bias: new Float32Array(3) });
    const source = join(workDir, `opset${layout.opset}-${layout.attention}.onnx`);
    const optimized = join(workDir, `opset${layout.opset}-${layout.attention}.optimized.onnx`);
    await writeModelFile(source, model);
    const session = await InferenceSession.create(source, {
      graphOptimizationLevel: 'all',
      optimizedModelFilePath: optimized,
      logSeverityLevel: 3,
    });
    await session.release();
    const counts: Record<string, number> = {};
    for (const node of (await readModelStructure(optimized)).graph.nodes) {
      counts[node.opType] = (counts[node.opType] ?? 0) + 1;
    }
    return counts;
  }

  const layers = PRESETS.tiny.numHiddenLayers;

  it.each([11, 17])(
    'opset %i, eager: LayerNormalization (decomposed ones fused back), BiasGelu and FusedMatMul; no SkipLayerNormalization, Attention or EmbedLayerNormalization',
    async (opset) => {
      const ops = await optimizedOps({ opset, attention: 'eager' });
      expect(ops).toMatchObject({
        LayerNormalization: 2 * layers + 1,
        BiasGelu: layers,
        FusedMatMul: layers,
        FusedGemm: 1,
      });
      for (const absent of [
        'SkipLayerNormalization',
        'Attention',
        'EmbedLayerNormalization',
        'ReduceMean',
        'Erf',
      ]) {
        expect(ops[absent]).toBeUndefined();
      }
    },
  );

  it('opset 14, sdpa: no FusedMatMul either; the computed scale stays as Sqrt and Mul nodes', async () => {
    const ops = await optimizedOps({ opset: 14, attention: 'sdpa' });
    expect(ops).toMatchObject({ LayerNormalization: 2 * layers + 1, BiasGelu: layers });
    expect(ops.FusedMatMul).toBeUndefined();
    expect(ops.SkipLayerNormalization).toBeUndefined();
    expect(ops.Sqrt).toBeGreaterThanOrEqual(2 * layers);
  });
});
