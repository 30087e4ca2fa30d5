import { decodeModel, encodeModel, TensorDataType, type ModelProto } from '@reputation-monitor/onnx-graph';
import { PRESETS } from './presets';
import { buildRobertaGraph } from './roberta-graph';

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
      opsetImports: [{ domain: '', version: 17 }],
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
    expect(attributesOf('/roberta.embeddings.LayerNorm/LayerNormalization')).toEqual([
      { name: 'axis', type: 'int', value: -1 },
      { name: 'epsilon', type: 'float', value: Math.fround(1e-5) },
    ]);
    expect(attributesOf('/roberta.encoder.layer.0.attention.self.key/Transpose')).toEqual([
      { name: 'perm', type: 'ints', value: [0, 2, 3, 1] },
    ]);
    const [headsShape] = attributesOf('/constants/heads_shape') ?? [];
    expect(headsShape).toMatchObject({
      type: 'tensor',
      value: { dims: [4], dataType: TensorDataType.INT64 },
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
