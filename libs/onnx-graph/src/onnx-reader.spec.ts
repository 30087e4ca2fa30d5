import { decodeModel } from './onnx-reader';
import {
  encodeModel,
  float32RawData,
  int64RawData,
  TensorDataType,
  type ModelProto,
  type TensorProto,
} from './onnx-proto';

/** Bytes as a plain Uint8Array (not a Buffer), so decoded views compare equal to hand-made arrays. */
const encode = (model: ModelProto) => new Uint8Array(Buffer.concat(encodeModel(model)));

// Hand-rolled protobuf pieces, for fields the encoder never writes.
const varint = (value: number | bigint): number[] => {
  const bytes: number[] = [];
  let remaining = BigInt.asUintN(64, BigInt(value));
  while (remaining >= 0x80n) {
    bytes.push(Number(remaining & 0x7fn) | 0x80);
    remaining >>= 7n;
  }
  bytes.push(Number(remaining));
  return bytes;
};
const VARINT = 0;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;
const field = (number: number, wireType: number, payload: ArrayLike<number>): Uint8Array =>
  Uint8Array.from([
    ...varint(number * 8 + wireType),
    ...(wireType === LENGTH_DELIMITED ? varint(payload.length) : []),
    ...Array.from(payload),
  ]);
const text = (value: string) => Array.from(Buffer.from(value, 'utf8'));
const float32 = (value: number) => Array.from(Buffer.from(Float32Array.of(value).buffer));

function smallModel(overrides: Partial<ModelProto['graph']> = {}, unknownFields?: Uint8Array[]): ModelProto {
  return {
    irVersion: 8,
    opsetImports: [{ domain: '', version: 17 }],
    producerName: 'test',
    producerVersion: '1',
    graph: {
      name: 'g',
      nodes: [],
      initializers: [],
      inputs: [{ name: 'x', elemType: TensorDataType.FLOAT, shape: ['n', 4] }],
      outputs: [{ name: 'x', elemType: TensorDataType.FLOAT, shape: ['n', 4] }],
      ...overrides,
    },
    ...(unknownFields && { unknownFields }),
  };
}

describe('decodeModel', () => {
  it('reads back exactly what the encoder writes, for every field it models', () => {
    const model = smallModel({
      nodes: [
        {
          name: '/constants/shape',
          opType: 'Constant',
          inputs: [],
          outputs: ['shape'],
          attributes: [
            {
              name: 'value',
              type: 'tensor',
              value: {
                name: 'shape',
                dims: [2],
                dataType: TensorDataType.INT64,
                rawData: int64RawData([0, -1]),
              },
            },
          ],
        },
        { name: '/Reshape', opType: 'Reshape', inputs: ['x', 'shape'], outputs: ['reshaped'] },
        {
          name: '/LayerNormalization',
          opType: 'LayerNormalization',
          inputs: ['reshaped', 'gamma', 'beta'],
          outputs: ['normalized'],
          attributes: [
            { name: 'axis', type: 'int', value: -1 },
            { name: 'epsilon', type: 'float', value: Math.fround(1e-5) },
          ],
        },
        {
          name: '/Transpose',
          opType: 'Transpose',
          inputs: ['normalized'],
          outputs: ['y'],
          attributes: [{ name: 'perm', type: 'ints', value: [1, 0] }],
        },
        { name: '/Custom', opType: 'Custom', domain: 'com.example', inputs: ['y'], outputs: ['z'] },
      ],
      initializers: [
        {
          name: 'gamma',
          dims: [4],
          dataType: TensorDataType.FLOAT,
          rawData: float32RawData(Float32Array.of(1, 2, 3, 4)),
        },
        {
          name: 'beta',
          dims: [4],
          dataType: TensorDataType.FLOAT,
          rawData: float32RawData(new Float32Array(4)),
        },
      ],
      outputs: [{ name: 'y', elemType: TensorDataType.FLOAT, shape: [4, 'n'] }],
    });
    const bytes = encode(model);
    const decoded = decodeModel(bytes);

    // Byte for byte: every modelled field is decoded and nothing is left over.
    expect(Buffer.concat(encodeModel(decoded)).equals(bytes)).toBe(true);
    expect(decoded.unknownFields).toBeUndefined();
    expect(decoded.graph.unknownFields).toBeUndefined();
    // Tensor payloads come back as views of the input; compare them as plain bytes.
    const plain = (tensor: TensorProto) => ({ ...tensor, rawData: Array.from(tensor.rawData ?? []) });
    const [constant, ...rest] = decoded.graph.nodes;
    const [shapeAttribute] = constant.attributes ?? [];
    expect(shapeAttribute.type === 'tensor' && plain(shapeAttribute.value)).toEqual(
      plain({ name: 'shape', dims: [2], dataType: TensorDataType.INT64, rawData: int64RawData([0, -1]) }),
    );
    expect(rest).toEqual(model.graph.nodes.slice(1).map((node) => ({ attributes: [], ...node })));
    expect(decoded.graph.initializers.map(plain)).toEqual(model.graph.initializers.map(plain));
    expect({ ...decoded, graph: { ...decoded.graph, nodes: [], initializers: [] } }).toEqual({
      ...model,
      graph: { ...model.graph, nodes: [], initializers: [] },
    });
  });

  it('keeps every field it does not model, at every level, and writes it back unchanged', () => {
    const sequenceType = field(
      4,
      LENGTH_DELIMITED,
      field(1, LENGTH_DELIMITED, field(1, LENGTH_DELIMITED, field(1, VARINT, varint(1)))),
    );
    const model = smallModel(
      {
        nodes: [
          {
            name: 'pad',
            opType: 'Pad',
            inputs: ['x', 'pads', ''],
            outputs: ['y'],
            // A string attribute and a doc string: not modelled, carried as encoded fields.
            attributes: [
              {
                name: 'mode',
                type: 'other',
                attributeType: 3,
                unknownFields: [field(4, LENGTH_DELIMITED, text('constant')), field(20, VARINT, varint(3))],
              },
            ],
            unknownFields: [field(6, LENGTH_DELIMITED, text('pads the input'))],
          },
        ],
        // int64_data instead of raw_data.
        initializers: [
          {
            name: 'pads',
            dims: [4],
            dataType: TensorDataType.INT64,
            unknownFields: [
              field(7, LENGTH_DELIMITED, [...varint(0), ...varint(1), ...varint(-1), ...varint(2)]),
            ],
          },
        ],
        outputs: [
          { name: 'y', elemType: TensorDataType.FLOAT, shape: ['n', 4] },
          // A sequence type, which the interface does not describe.
          { name: 'steps', unknownFields: [field(2, LENGTH_DELIMITED, sequenceType)] },
        ],
        unknownFields: [
          field(10, LENGTH_DELIMITED, text('graph doc')),
          field(13, LENGTH_DELIMITED, [...field(1, LENGTH_DELIMITED, text('y'))]),
        ],
      },
      [field(6, LENGTH_DELIMITED, text('model doc')), field(5, VARINT, varint(3))],
    );
    const bytes = encode(model);
    const decoded = decodeModel(bytes);
    expect(decoded).toEqual(model);
    expect(Buffer.concat(encodeModel(decoded)).equals(Buffer.from(bytes))).toBe(true);
  });

  it('reads what other protobuf writers emit: float_data, packed repeated fields, huge int64 attributes', () => {
    const floatValues = [1.5, -2, 0.25];
    const packedTensor = [
      ...field(1, LENGTH_DELIMITED, [...varint(1), ...varint(3)]), // dims, packed
      ...field(2, VARINT, varint(TensorDataType.FLOAT)),
      ...field(4, LENGTH_DELIMITED, floatValues.flatMap(float32)), // float_data, packed
      ...field(8, LENGTH_DELIMITED, text('packed')),
    ];
    const unpackedTensor = [
      ...field(1, VARINT, varint(3)),
      ...field(2, VARINT, varint(TensorDataType.FLOAT)),
      ...floatValues.flatMap((value) => Array.from(field(4, FIXED32, float32(value)))),
      ...field(8, LENGTH_DELIMITED, text('unpacked')),
    ];
    const intsAttribute = [
      ...field(1, LENGTH_DELIMITED, text('axes')),
      ...field(8, LENGTH_DELIMITED, [...varint(-1), ...varint(2)]), // ints, packed
      ...field(20, VARINT, varint(7)),
    ];
    const hugeAttribute = [
      ...field(1, LENGTH_DELIMITED, text('end')),
      ...field(3, VARINT, varint(2n ** 63n - 1n)),
      ...field(20, VARINT, varint(2)),
    ];
    const node = [
      ...field(1, LENGTH_DELIMITED, text('x')),
      ...field(2, LENGTH_DELIMITED, text('y')),
      ...field(4, LENGTH_DELIMITED, text('Custom')),
      ...field(5, LENGTH_DELIMITED, intsAttribute),
      ...field(5, LENGTH_DELIMITED, hugeAttribute),
    ];
    const bytes = Uint8Array.from([
      ...field(7, LENGTH_DELIMITED, [
        ...field(1, LENGTH_DELIMITED, node),
        ...field(5, LENGTH_DELIMITED, packedTensor),
        ...field(5, LENGTH_DELIMITED, unpackedTensor),
      ]),
      ...field(1, VARINT, varint(9)),
    ]);

    const decoded = decodeModel(bytes);
    expect(decoded.irVersion).toBe(9);
    for (const tensor of decoded.graph.initializers) {
      expect(tensor.dims).toEqual(tensor.name === 'packed' ? [1, 3] : [3]);
      expect(Array.from(new Float32Array(Uint8Array.from(tensor.rawData ?? []).buffer))).toEqual(floatValues);
    }
    const [axes, end] = decoded.graph.nodes[0].attributes ?? [];
    expect(axes).toEqual({ name: 'axes', type: 'ints', value: [-1, 2] });
    // 2^63 - 1 does not fit a JS number, so it stays encoded and is written back as it was.
    expect(end).toMatchObject({ name: 'end', type: 'other', attributeType: 2 });
    const again = decodeModel(Buffer.concat(encodeModel(decoded)));
    expect(again.graph.nodes[0].attributes?.[1]).toEqual(end);
  });

  it('rejects bytes that are not an ONNX model', () => {
    expect(() => decodeModel(Buffer.from('definitely not protobuf'))).toThrow(/not a valid ONNX model/);
    expect(() => decodeModel(Uint8Array.from(field(1, VARINT, varint(8))))).toThrow('it has no graph');
    const model = encode(smallModel());
    expect(() => decodeModel(model.subarray(0, model.length - 3))).toThrow(/not a valid ONNX model/);
  });
});
