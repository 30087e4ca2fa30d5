/**
 * A minimal protobuf encoder for the part of onnx.proto that a plain inference graph needs.
 *
 * Field numbers follow onnx/onnx.proto (proto2). Large tensors are never copied: a message is a list of
 * chunks that point at the caller's typed arrays, and the file is written chunk by chunk, so a 500 MB
 * model needs no second 500 MB buffer.
 *
 * Every message may carry `unknownFields`: fields these interfaces do not model, as their encoded bytes
 * (tag included). onnx-reader.ts fills them, and they are written back after the modelled fields, so a
 * model read and rewritten keeps its doc strings, value_info, metadata, subgraphs and the like.
 */
import { endianness } from 'node:os';
import { open, rename, rm } from 'node:fs/promises';

/** TensorProto.DataType values used by this package (any other value may appear in a model read from disk). */
export const TensorDataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9 } as const;

/** Encoded fields (tag and value) that a message's interface does not model, kept in their original order. */
export type UnknownFields = readonly Uint8Array[];

export interface TensorProto {
  name: string;
  dims: readonly number[];
  /** A TensorProto.DataType value, e.g. TensorDataType.FLOAT. */
  dataType: number;
  /**
   * Little-endian element bytes (TensorProto.raw_data). Absent when the data lies elsewhere (int64_data,
   * external data, …), which then travels in unknownFields; the reader turns float_data into rawData.
   */
  rawData?: Uint8Array;
  unknownFields?: UnknownFields;
}

export type AttributeProto = (
  | { name: string; type: 'float'; value: number }
  | { name: string; type: 'int'; value: number }
  | { name: string; type: 'ints'; value: readonly number[] }
  | { name: string; type: 'tensor'; value: TensorProto }
  /** Any other attribute (strings, graphs, int64 values beyond 2^53 …): everything but the name is in unknownFields. */
  | { name: string; type: 'other'; attributeType: number }
) & { unknownFields?: UnknownFields };

export interface NodeProto {
  name: string;
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes?: readonly AttributeProto[];
  /** Empty or absent means the default ONNX domain. */
  domain?: string;
  unknownFields?: UnknownFields;
}

/**
 * A graph input or output; a string dimension is symbolic (dim_param). elemType and shape are absent when
 * the type is something else (a sequence, a tensor of unknown rank, …), which then sits in unknownFields.
 */
export interface ValueInfoProto {
  name: string;
  elemType?: number;
  shape?: readonly (number | string)[];
  unknownFields?: UnknownFields;
}

export interface GraphProto {
  name: string;
  nodes: readonly NodeProto[];
  initializers: readonly TensorProto[];
  inputs: readonly ValueInfoProto[];
  outputs: readonly ValueInfoProto[];
  unknownFields?: UnknownFields;
}

export interface OperatorSetIdProto {
  domain: string;
  version: number;
}

export interface ModelProto {
  irVersion: number;
  opsetImports: readonly OperatorSetIdProto[];
  producerName: string;
  producerVersion: string;
  graph: GraphProto;
  unknownFields?: UnknownFields;
}

/** AttributeProto.AttributeType values. */
export const AttributeType = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  INTS: 7,
  GRAPHS: 10,
} as const;

const WireType = { VARINT: 0, LENGTH_DELIMITED: 2, FIXED32: 5 } as const;

const isLittleEndian = endianness() === 'LE';

/** Float32 values as raw_data; a view (no copy) on little-endian hosts. */
export function float32RawData(values: Float32Array): Uint8Array {
  const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  return isLittleEndian ? bytes : Buffer.from(bytes).swap32();
}

export function int64RawData(values: readonly number[]): Uint8Array {
  const bytes = Buffer.alloc(values.length * 8);
  values.forEach((value, index) => bytes.writeBigInt64LE(BigInt(value), index * 8));
  return bytes;
}

export function int32RawData(values: readonly number[]): Uint8Array {
  const bytes = Buffer.alloc(values.length * 4);
  values.forEach((value, index) => bytes.writeInt32LE(value, index * 4));
  return bytes;
}

/**
 * Collects the encoded bytes of one message. Small scalar fields accumulate in `pending` and are flushed
 * as one chunk, so a graph of thousands of nodes still produces few chunks.
 */
class MessageWriter {
  private readonly chunks: Uint8Array[] = [];
  private pending: number[] = [];
  private flushedLength = 0;

  get byteLength(): number {
    return this.flushedLength + this.pending.length;
  }

  varint(field: number, value: number): this {
    this.tag(field, WireType.VARINT);
    this.pushVarint(value);
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, WireType.FIXED32);
    const bytes = Buffer.alloc(4);
    bytes.writeFloatLE(value);
    this.pending.push(...bytes);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, Buffer.from(value, 'utf8'));
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WireType.LENGTH_DELIMITED);
    this.pushVarint(value.byteLength);
    this.appendChunk(value);
    return this;
  }

  message(field: number, value: MessageWriter): this {
    this.tag(field, WireType.LENGTH_DELIMITED);
    this.pushVarint(value.byteLength);
    for (const chunk of value.finish()) this.appendChunk(chunk);
    return this;
  }

  /** Fields that are already encoded, tag included. */
  encoded(fields: UnknownFields = []): this {
    for (const field of fields) this.appendChunk(field);
    return this;
  }

  finish(): Uint8Array[] {
    this.flushPending();
    return this.chunks;
  }

  private tag(field: number, wireType: number): void {
    this.pushVarint(field * 8 + wireType);
  }

  /** int64 varint: negative values take ten bytes (two's complement), as protobuf specifies. */
  private pushVarint(value: number): void {
    let remaining = BigInt.asUintN(64, BigInt(value));
    while (remaining >= 0x80n) {
      this.pending.push(Number(remaining & 0x7fn) | 0x80);
      remaining >>= 7n;
    }
    this.pending.push(Number(remaining));
  }

  private appendChunk(chunk: Uint8Array): void {
    // Copying a few bytes is cheaper than tracking a separate tiny chunk; big payloads are kept by reference.
    if (chunk.byteLength <= 64) {
      for (const byte of chunk) this.pending.push(byte);
      return;
    }
    this.flushPending();
    this.chunks.push(chunk);
    this.flushedLength += chunk.byteLength;
  }

  private flushPending(): void {
    if (this.pending.length === 0) return;
    this.chunks.push(Uint8Array.from(this.pending));
    this.flushedLength += this.pending.length;
    this.pending = [];
  }
}

function encodeTensor(tensor: TensorProto): MessageWriter {
  const writer = new MessageWriter();
  for (const dim of tensor.dims) writer.varint(1, dim);
  writer.varint(2, tensor.dataType).string(8, tensor.name);
  // An empty raw_data that is present would still mean "the data is here", so absent stays absent.
  if (tensor.rawData) writer.bytes(9, tensor.rawData);
  return writer.encoded(tensor.unknownFields);
}

function encodeAttribute(attribute: AttributeProto): MessageWriter {
  const writer = new MessageWriter().string(1, attribute.name);
  switch (attribute.type) {
    case 'float':
      writer.float(2, attribute.value).varint(20, AttributeType.FLOAT);
      break;
    case 'int':
      writer.varint(3, attribute.value).varint(20, AttributeType.INT);
      break;
    case 'tensor':
      writer.message(5, encodeTensor(attribute.value)).varint(20, AttributeType.TENSOR);
      break;
    case 'ints':
      // proto2 repeated scalars are unpacked: one tag per element.
      for (const value of attribute.value) writer.varint(8, value);
      writer.varint(20, AttributeType.INTS);
      break;
    case 'other':
      break; // its type and value are among the unknown fields
  }
  return writer.encoded(attribute.unknownFields);
}

function encodeNode(node: NodeProto): MessageWriter {
  const writer = new MessageWriter();
  for (const input of node.inputs) writer.string(1, input);
  for (const output of node.outputs) writer.string(2, output);
  writer.string(3, node.name).string(4, node.opType);
  for (const attribute of node.attributes ?? []) writer.message(5, encodeAttribute(attribute));
  if (node.domain) writer.string(7, node.domain);
  return writer.encoded(node.unknownFields);
}

function encodeValueInfo(valueInfo: ValueInfoProto): MessageWriter {
  const writer = new MessageWriter().string(1, valueInfo.name);
  if (valueInfo.elemType !== undefined) {
    const shape = new MessageWriter();
    for (const dim of valueInfo.shape ?? []) {
      const dimension =
        typeof dim === 'string' ? new MessageWriter().string(2, dim) : new MessageWriter().varint(1, dim);
      shape.message(1, dimension);
    }
    const tensorType = new MessageWriter().varint(1, valueInfo.elemType).message(2, shape);
    writer.message(2, new MessageWriter().message(1, tensorType));
  }
  return writer.encoded(valueInfo.unknownFields);
}

function encodeGraph(graph: GraphProto): MessageWriter {
  const writer = new MessageWriter();
  for (const node of graph.nodes) writer.message(1, encodeNode(node));
  writer.string(2, graph.name);
  for (const initializer of graph.initializers) writer.message(5, encodeTensor(initializer));
  for (const input of graph.inputs) writer.message(11, encodeValueInfo(input));
  for (const output of graph.outputs) writer.message(12, encodeValueInfo(output));
  return writer.encoded(graph.unknownFields);
}

/** The serialized model as an ordered list of chunks, to be written one after another. */
export function encodeModel(model: ModelProto): Uint8Array[] {
  const writer = new MessageWriter()
    .varint(1, model.irVersion)
    .string(2, model.producerName)
    .string(3, model.producerVersion)
    .message(7, encodeGraph(model.graph));
  for (const opset of model.opsetImports) {
    writer.message(8, new MessageWriter().string(1, opset.domain).varint(2, opset.version));
  }
  return writer.encoded(model.unknownFields).finish();
}

/**
 * Writes the model to a temporary file next to `path`, then renames it into place, so readers never see a
 * half-written model. Returns the file size in bytes.
 */
export async function writeModelFile(path: string, model: ModelProto): Promise<number> {
  const tempPath = `${path}.${process.pid}.${Date.now()}.tmp`;
  let bytesWritten = 0;
  try {
    const file = await open(tempPath, 'w');
    try {
      for (const chunk of encodeModel(model)) {
        // FileHandle.write may write less than asked; keep going until the chunk is out.
        for (let offset = 0; offset < chunk.byteLength;) {
          const { bytesWritten: written } = await file.write(chunk, offset, chunk.byteLength - offset);
          offset += written;
        }
        bytesWritten += chunk.byteLength;
      }
    } finally {
      await file.close();
    }
    await rename(tempPath, path);
  } catch (error) {
    await rm(tempPath, { force: true });
    throw error;
  }
  return bytesWritten;
}
