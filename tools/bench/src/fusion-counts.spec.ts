import { countOpTypes, opCountTable, type GraphCounts } from './fusion-counts';

describe('opCountTable', () => {
  const graph = (
    label: string,
    after: Record<string, number>,
    before: Record<string, number>,
  ): GraphCounts => ({
    label,
    path: `/models/${label}.onnx`,
    after,
    before,
  });

  it('lists the fused op types first (absent key fusions too), then the rest by count, and the node totals', () => {
    const table = opCountTable([
      graph(
        'synthetic',
        { SkipLayerNormalization: 25, MatMul: 84, Add: 50, Reshape: 48 },
        { Add: 125, MatMul: 98 },
      ),
      graph('export', { LayerNormalization: 25, MatMul: 84, Add: 99, Reshape: 48, Shape: 1 }, { Add: 174 }),
    ]).split('\n');
    expect(table[0]).toBe('| op type | synthetic | export |');
    expect(table.slice(2).map((row) => row.split(' | ')[0].slice(2))).toEqual([
      'Attention',
      'EmbedLayerNormalization',
      'SkipLayerNormalization',
      'LayerNormalization',
      'BiasGelu',
      'MatMul',
      'Add',
      'Reshape',
      'Shape',
      'all nodes (as stored)',
    ]);
    expect(table).toContain('| SkipLayerNormalization | 25 |  |');
    expect(table).toContain('| Attention |  |  |');
    expect(table.at(-1)).toBe('| all nodes (as stored) | 207 (223) | 257 (174) |');
  });

  it('counts a model’s op types', () => {
    const node = (opType: string) => ({ name: opType, opType, inputs: [], outputs: [] });
    expect(
      countOpTypes({
        irVersion: 8,
        opsetImports: [],
        producerName: '',
        producerVersion: '',
        graph: {
          name: 'g',
          nodes: [node('Add'), node('MatMul'), node('Add')],
          initializers: [],
          inputs: [],
          outputs: [],
        },
      }),
    ).toEqual({ Add: 2, MatMul: 1 });
  });
});
