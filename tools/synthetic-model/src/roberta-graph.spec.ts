import { decodeModel, encodeModel, TensorDataType, type ModelProto } from '@reputation-monitor/onnx-graph';
import { PRESETS } from './presets';
import { buildRobertaGraph, checkLayout } from './roberta-graph';

/** Bytes as a plain Uint8Array (not a Buffer), so decoded views compare equal to hand-made arrays. */
const encode = (model: ModelProto) => new Uint8Array(Buffer.concat(encodeModel(model)));

// The generator's graph uses every field and attribute type the ONNX writer models.
describe('the synthetic RoBERTa graph through the ONNX writer and reader', () => {
  it('reads back exactly what the encoder writes', () => {
    const graph = buildRobertaGraph(PRESETS.tiny, 7);
    const model = graph.classifierModel({
      weight: graph.initialOutputProjection,
      bias: Float32Array.of(0.5, -0.25, 0),
    });
    const bytes = encode(model);
    const decoded = decodeModel(bytes);

    // Byte for byte: every modelled field is decoded and nothing is left over.
    expect(Buffer.concat(encodeModel(decoded)).equals(bytes)).toBe(true);
    expect(decoded.unknownFields).toBeUndefined();
    expect(decoded.graph.unknownFields).toBeUndefined();

    expect(decoded).toMatchObject({
      irVersion: 8,
      opsetImports: [{ domain: '', version: 11 }],
      producerName: 'synthetic-model',
      graph: {
        name: 'main_graph',
        inputs: [
          { name: 'input_ids', elemType: TensorDataType.INT64, shape: ['batch_size', 'sequence_length'] },
          {
            name: 'attention_mask',
            elemType: TensorDataType.INT64,
            shape: ['batch_size', 'sequence_length'],
          },
        ],
        outputs: [{ name: 'logits', elemType: TensorDataType.FLOAT, shape: ['batch_size', 3] }],
      },
    });
    expect(decoded.graph.nodes.map((node) => node.opType)).toEqual(
      model.graph.nodes.map((node) => node.opType),
    );
    expect(decoded.graph.nodes.map((node) => [node.name, node.inputs, node.outputs])).toEqual(
      model.graph.nodes.map((node) => [node.name, node.inputs, node.outputs]),
    );
    // Each attribute type the encoder writes: float, negative int, ints and a tensor.
    const attributesOf = (name: string) => decoded.graph.nodes.find((node) => node.name === name)?.attributes;
    expect(attributesOf('/classifier/dense/Gemm')).toEqual([
      { name: 'alpha', type: 'float', value: 1 },
      { name: 'beta', type: 'float', value: 1 },
      { name: 'transB', type: 'int', value: 1 },
    ]);
    expect(attributesOf('/roberta/embeddings/LayerNorm/ReduceMean')).toEqual([
      { name: 'axes', type: 'ints', value: [-1] },
    ]);
    expect(attributesOf('/roberta/encoder/layer.0/attention/self/Transpose')).toEqual([
      { name: 'perm', type: 'ints', value: [0, 2, 3, 1] },
    ]);
    const [concatConstant] = attributesOf('/roberta/encoder/layer.0/attention/self/Constant_2') ?? [];
    expect(concatConstant).toMatchObject({
      type: 'tensor',
      value: { dims: [1], dataType: TensorDataType.INT64 },
    });

    expect(decoded.graph.initializers).toHaveLength(model.graph.initializers.length);
    decoded.graph.initializers.forEach((tensor, index) => {
      const original = model.graph.initializers[index];
      expect([tensor.name, tensor.dims, tensor.dataType]).toEqual([
        original.name,
        original.dims,
        original.dataType,
      ]);
      expect(Buffer.from(tensor.rawData ?? []).equals(Buffer.from(original.rawData ?? []))).toBe(true);
    });
  });
});

describe('the export layouts', () => {
  const opsOf = (model: ModelProto) => new Set(model.graph.nodes.map((node) => node.opType));
  const classifier = (opset: number, attention: 'eager' | 'sdpa') => {
    const graph = buildRobertaGraph(PRESETS.tiny, 7, { opset, attention });
    return graph.classifierModel({ weight: graph.initialOutputProjection, bias: new Float32Array(3) });
  };

  it('decomposes LayerNorm below opset 17 and writes LayerNormalization from 17, as torch does', () => {
    const opset11 = opsOf(classifier(11, 'eager'));
    expect(opset11.has('LayerNormalization')).toBe(false);
    expect(['ReduceMean', 'Pow', 'Sqrt'].every((op) => opset11.has(op))).toBe(true);
    const opset17 = opsOf(classifier(17, 'eager'));
    expect(opset17.has('LayerNormalization')).toBe(true);
    expect(opset17.has('ReduceMean')).toBe(false);
  });

  it('takes Unsqueeze axes as an attribute up to opset 12 and as an input from 13', () => {
    const unsqueeze = (model: ModelProto) => model.graph.nodes.find((node) => node.opType === 'Unsqueeze');
    expect(unsqueeze(classifier(11, 'eager'))).toMatchObject({ attributes: [{ name: 'axes' }] });
    expect(unsqueeze(classifier(14, 'eager'))?.inputs).toHaveLength(2);
  });

  it('masks through Where and scales Q and K by a computed root with sdpa attention', () => {
    const sdpa = classifier(14, 'sdpa');
    expect(opsOf(sdpa).has('Where')).toBe(true);
    const self = '/roberta/encoder/layer.0/attention/self';
    const names = new Set(sdpa.graph.nodes.map((node) => node.name));
    expect(names.has(`${self}/Div`)).toBe(true); // 1 / sqrt(head size), computed from the shape
    expect(sdpa.graph.nodes.filter((node) => node.name.startsWith(`${self}/Mul`))).toHaveLength(2);
  });

  it('refuses a layout it cannot write', () => {
    expect(() => checkLayout({ opset: 10, attention: 'eager' })).toThrow(/opset must be one of/);
    expect(() => checkLayout({ opset: 13, attention: 'sdpa' })).toThrow(/from opset 14/);
  });
});
