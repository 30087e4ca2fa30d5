/**
 * A minimal protobuf decoder for ONNX models: the counterpart of the encoder in onnx-proto.ts, returning
 * the same interfaces. The fields those interfaces model are decoded; every other field is kept as its
 * encoded bytes in `unknownFields`, so a model read and written back loses nothing. Tensor payloads are
 * views into the input buffer, not copies.
 *
 * Field numbers follow onnx/onnx.proto (proto2). The decoder accepts what any protobuf writer may emit:
 * packed or unpacked repeated scalars, fields in any order, float_data as well as raw_data.
 */
import { open, readFile, type FileHandle } from 'node:fs/promises';
import {
  AttributeType,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type OperatorSetIdProto,
  type TensorProto,
  type ValueInfoProto,
} from './onnx-proto';

const WireType = { VARINT: 0, FIXED64: 1, LENGTH_DELIMITED: 2, FIXED32: 5 } as const;

interface Field {
  number: number;
  wireType: number;
  /** The value of a VARINT field. */
  varint: bigint;
  /** The payload of a LENGTH_DELIMITED, FIXED32 or FIXED64 field. */
  payload: Uint8Array;
  /** The whole field, tag included, for unknownFields. */
  encoded: Uint8Array;
}

class MalformedModelError extends Error {}

function readVarint(bytes: Uint8Array, start: number): [value: bigint, next: number] {
  let value = 0n;
  let shift = 0n;
  for (let position = start; position < bytes.length && shift < 70n; position++) {
    const byte = bytes[position];
    value |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) return [BigInt.asUintN(64, value), position + 1];
    shift += 7n;
  }
  throw new MalformedModelError(`truncated or overlong varint at byte ${start}`);
}

/** The fields of one message, in the order they are encoded. */
function decodeFields(bytes: Uint8Array): Field[] {
  const fields: Field[] = [];
  let position = 0;
  while (position < bytes.length) {
    const start = position;
    const [tag, afterTag] = readVarint(bytes, position);
    const number = Number(tag >> 3n);
    const wireType = Number(tag & 7n);
    let varint = 0n;
    let payloadStart = afterTag;
    let payloadEnd: number;
    switch (wireType) {
      case WireType.VARINT:
        [varint, payloadEnd] = readVarint(bytes, afterTag);
        payloadStart = payloadEnd;
        break;
      case WireType.FIXED64:
        payloadEnd = afterTag + 8;
        break;
      case WireType.FIXED32:
        payloadEnd = afterTag + 4;
        break;
      case WireType.LENGTH_DELIMITED: {
        const [length, afterLength] = readVarint(bytes, afterTag);
        payloadStart = afterLength;
        payloadEnd = afterLength + Number(length);
        break;
      }
      default:
        throw new MalformedModelError(`unsupported wire type ${wireType} at byte ${start}`);
    }
    if (number === 0 || payloadEnd > bytes.length) {
      throw new MalformedModelError(`field at byte ${start} runs past the end of its message`);
    }
    position = payloadEnd;
    fields.push({
      number,
      wireType,
      varint,
      payload: bytes.subarray(payloadStart, payloadEnd),
      encoded: bytes.subarray(start, payloadEnd),
    });
  }
  return fields;
}

function expectWireType(field: Field, wireType: number, message: string): void {
  if (field.wireType !== wireType) {
    throw new MalformedModelError(`${message} field ${field.number} has wire type ${field.wireType}`);
  }
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });
const string = (field: Field, message: string) => {
  expectWireType(field, WireType.LENGTH_DELIMITED, message);
  return textDecoder.decode(field.payload);
};
const int64 = (field: Field, message: string) => {
  expectWireType(field, WireType.VARINT, message);
  return BigInt.asIntN(64, field.varint);
};
const isSafe = (value: bigint) =>
  value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER);
/** An int64 that must fit a JS number (dims, versions, enums); larger values would be corrupted. */
const safeInt = (field: Field, message: string) => {
  const value = int64(field, message);
  if (!isSafe(value)) throw new MalformedModelError(`${message} field ${field.number} is out of range`);
  return Number(value);
};

/** A repeated int64 field, packed (one length-delimited run) or unpacked (one varint). */
function repeatedInt64(field: Field, message: string): bigint[] {
  if (field.wireType === WireType.VARINT) return [BigInt.asIntN(64, field.varint)];
  expectWireType(field, WireType.LENGTH_DELIMITED, message);
  const values: bigint[] = [];
  for (let position = 0; position < field.payload.length;) {
    const [value, next] = readVarint(field.payload, position);
    values.push(BigInt.asIntN(64, value));
    position = next;
  }
  return values;
}

function decodeTensor(bytes: Uint8Array): TensorProto {
  const dims: number[] = [];
  let dataType = 0;
  let name = '';
  let rawData: Uint8Array | undefined;
  const floatData: Uint8Array[] = [];
  const unknownFields: Uint8Array[] = [];
  for (const field of decodeFields(bytes)) {
    switch (field.number) {
      case 1:
        for (const dim of repeatedInt64(field, 'TensorProto')) {
          if (!isSafe(dim)) throw new MalformedModelError('TensorProto dimension out of range');
          dims.push(Number(dim));
        }
        break;
      case 2:
        dataType = safeInt(field, 'TensorProto');
        break;
      case 4: // float_data: little-endian float32, packed (one run) or one FIXED32 field per value
        if (field.wireType !== WireType.FIXED32)
          expectWireType(field, WireType.LENGTH_DELIMITED, 'TensorProto');
        floatData.push(field.payload);
        break;
      case 8:
        name = string(field, 'TensorProto');
        break;
      case 9:
        expectWireType(field, WireType.LENGTH_DELIMITED, 'TensorProto');
        rawData = field.payload;
        break;
      default:
        unknownFields.push(field.encoded);
    }
  }
  // raw_data is little-endian too, so float_data's bytes are raw_data as they stand.
  if (!rawData && floatData.length > 0) {
    rawData = floatData.length === 1 ? floatData[0] : Buffer.concat(floatData);
  }
  return { name, dims, dataType, ...(rawData && { rawData }), ...withUnknown(unknownFields) };
}

/** Attribute types decoded into a typed value, and the field that holds that value. */
const VALUE_FIELD: Partial<Record<number, number>> = {
  [AttributeType.FLOAT]: 2,
  [AttributeType.INT]: 3,
  [AttributeType.TENSOR]: 5,
  [AttributeType.INTS]: 8,
};

function decodeAttribute(bytes: Uint8Array): AttributeProto {
  const fields = decodeFields(bytes);
  let name = '';
  let attributeType = 0;
  for (const field of fields) {
    if (field.number === 1) name = string(field, 'AttributeProto');
    if (field.number === 20) attributeType = safeInt(field, 'AttributeProto');
  }
  const valueField = VALUE_FIELD[attributeType];
  const valueFields = fields.filter((field) => field.number === valueField);
  const other = (): AttributeProto => ({
    name,
    type: 'other',
    attributeType,
    ...withUnknown(fields.filter((field) => field.number !== 1).map((field) => field.encoded)),
  });
  // Fields besides the name, the type and the value (doc_string, ref_attr_name …) travel as they are.
  const unknownFields = withUnknown(
    fields
      .filter((field) => field.number !== 1 && field.number !== 20 && field.number !== valueField)
      .map((field) => field.encoded),
  );
  const last = valueFields.at(-1);
  switch (attributeType) {
    case AttributeType.FLOAT:
      if (last) expectWireType(last, WireType.FIXED32, 'AttributeProto');
      return {
        name,
        type: 'float',
        value: last ? Buffer.from(last.payload).readFloatLE(0) : 0,
        ...unknownFields,
      };
    case AttributeType.INT: {
      const value = last ? int64(last, 'AttributeProto') : 0n;
      // An int64 beyond 2^53 (INT64_MAX as "to the end" …) would not survive a JS number: keep its bytes.
      return isSafe(value) ? { name, type: 'int', value: Number(value), ...unknownFields } : other();
    }
    case AttributeType.INTS: {
      const values = valueFields.flatMap((field) => repeatedInt64(field, 'AttributeProto'));
      return values.every(isSafe)
        ? { name, type: 'ints', value: values.map(Number), ...unknownFields }
        : other();
    }
    case AttributeType.TENSOR:
      if (!last) return other();
      expectWireType(last, WireType.LENGTH_DELIMITED, 'AttributeProto');
      return { name, type: 'tensor', value: decodeTensor(last.payload), ...unknownFields };
    default:
      return other();
  }
}

function decodeNode(bytes: Uint8Array): NodeProto {
  const inputs: string[] = [];
  const outputs: string[] = [];
  const attributes: AttributeProto[] = [];
  let name = '';
  let opType = '';
  let domain = '';
  const unknownFields: Uint8Array[] = [];
  for (const field of decodeFields(bytes)) {
    switch (field.number) {
      case 1:
        inputs.push(string(field, 'NodeProto'));
        break;
      case 2:
        outputs.push(string(field, 'NodeProto'));
        break;
      case 3:
        name = string(field, 'NodeProto');
        break;
      case 4:
        opType = string(field, 'NodeProto');
        break;
      case 5:
        expectWireType(field, WireType.LENGTH_DELIMITED, 'NodeProto');
        attributes.push(decodeAttribute(field.payload));
        break;
      case 7:
        domain = string(field, 'NodeProto');
        break;
      default:
        unknownFields.push(field.encoded);
    }
  }
  return {
    name,
    opType,
    inputs,
    outputs,
    attributes,
    ...(domain && { domain }),
    ...withUnknown(unknownFields),
  };
}

/**
 * TypeProto → { elemType, shape } when it is a tensor whose every dimension is a value or a name, the only
 * kind the encoder writes; undefined for anything else, which the caller then keeps encoded.
 */
function decodeTensorType(bytes: Uint8Array): { elemType: number; shape: (number | string)[] } | undefined {
  const typeFields = decodeFields(bytes);
  if (typeFields.length !== 1 || typeFields[0].number !== 1) return undefined;
  let elemType: number | undefined;
  let shape: (number | string)[] | undefined;
  for (const field of decodeFields(typeFields[0].payload)) {
    if (field.number === 1 && field.wireType === WireType.VARINT) elemType = Number(field.varint);
    else if (field.number === 2 && field.wireType === WireType.LENGTH_DELIMITED && !shape) {
      shape = [];
      for (const dimension of decodeFields(field.payload)) {
        const parts = dimension.number === 1 ? decodeFields(dimension.payload) : [];
        if (parts.length !== 1) return undefined; // no value, a denotation, …
        const [part] = parts;
        if (part.number === 1 && part.wireType === WireType.VARINT && isSafe(part.varint)) {
          shape.push(Number(part.varint));
        } else if (part.number === 2 && part.wireType === WireType.LENGTH_DELIMITED) {
          shape.push(textDecoder.decode(part.payload));
        } else return undefined;
      }
    } else return undefined;
  }
  return elemType !== undefined && shape ? { elemType, shape } : undefined;
}

function decodeValueInfo(bytes: Uint8Array): ValueInfoProto {
  let name = '';
  let tensorType: ReturnType<typeof decodeTensorType>;
  const unknownFields: Uint8Array[] = [];
  for (const field of decodeFields(bytes)) {
    if (field.number === 1) name = string(field, 'ValueInfoProto');
    else if (field.number === 2 && !tensorType && field.wireType === WireType.LENGTH_DELIMITED) {
      tensorType = decodeTensorType(field.payload);
      if (!tensorType) unknownFields.push(field.encoded);
    } else unknownFields.push(field.encoded);
  }
  return { name, ...tensorType, ...withUnknown(unknownFields) };
}

function decodeGraph(bytes: Uint8Array): GraphProto {
  const nodes: NodeProto[] = [];
  const initializers: TensorProto[] = [];
  const inputs: ValueInfoProto[] = [];
  const outputs: ValueInfoProto[] = [];
  let name = '';
  const unknownFields: Uint8Array[] = [];
  for (const field of decodeFields(bytes)) {
    const isMessage = field.wireType === WireType.LENGTH_DELIMITED;
    if (field.number === 1 && isMessage) nodes.push(decodeNode(field.payload));
    else if (field.number === 2) name = string(field, 'GraphProto');
    else if (field.number === 5 && isMessage) initializers.push(decodeTensor(field.payload));
    else if (field.number === 11 && isMessage) inputs.push(decodeValueInfo(field.payload));
    else if (field.number === 12 && isMessage) outputs.push(decodeValueInfo(field.payload));
    else unknownFields.push(field.encoded); // value_info, doc_string, sparse initializers, …
  }
  return { name, nodes, initializers, inputs, outputs, ...withUnknown(unknownFields) };
}

function decodeOpset(bytes: Uint8Array): OperatorSetIdProto {
  let domain = '';
  let version = 0;
  for (const field of decodeFields(bytes)) {
    if (field.number === 1) domain = string(field, 'OperatorSetIdProto');
    if (field.number === 2) version = safeInt(field, 'OperatorSetIdProto');
  }
  return { domain, version };
}

/** Decodes a serialized ModelProto; throws when the bytes are not one. */
export function decodeModel(bytes: Uint8Array): ModelProto {
  let irVersion = 0;
  let producerName = '';
  let producerVersion = '';
  let graph: GraphProto | undefined;
  const opsetImports: OperatorSetIdProto[] = [];
  const unknownFields: Uint8Array[] = [];
  try {
    for (const field of decodeFields(bytes)) {
      const isMessage = field.wireType === WireType.LENGTH_DELIMITED;
      if (field.number === 1) irVersion = safeInt(field, 'ModelProto');
      else if (field.number === 2) producerName = string(field, 'ModelProto');
      else if (field.number === 3) producerVersion = string(field, 'ModelProto');
      else if (field.number === 7 && isMessage) graph = decodeGraph(field.payload);
      else if (field.number === 8 && isMessage) opsetImports.push(decodeOpset(field.payload));
      else unknownFields.push(field.encoded);
    }
  } catch (error) {
    if (error instanceof MalformedModelError || error instanceof TypeError) {
      throw new Error(`not a valid ONNX model: ${error.message}`);
    }
    throw error;
  }
  if (!graph) throw new Error('not a valid ONNX model: it has no graph');
  return { irVersion, opsetImports, producerName, producerVersion, graph, ...withUnknown(unknownFields) };
}

/** Reads and decodes an ONNX file; tensors are views into one buffer holding the whole file. */
export async function readModelFile(path: string): Promise<ModelProto> {
  const bytes = await readFile(path);
  try {
    return decodeModel(bytes);
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`);
  }
}

/** Reads a file window by window: a model's structure is a few MB spread over hundreds of MB of weights. */
class FileWindow {
  private window = new Uint8Array(0);
  private windowStart = 0;

  constructor(
    private readonly file: FileHandle,
    readonly size: number,
  ) {}

  /** `length` bytes at `position`; a view that stays valid (each window is a new buffer). */
  async bytes(position: number, length: number): Promise<Uint8Array> {
    if (position < 0 || position + length > this.size) {
      throw new MalformedModelError(`field at byte ${position} runs past the end of the file`);
    }
    const offset = position - this.windowStart;
    if (offset < 0 || offset + length > this.window.length) {
      const size = Math.min(Math.max(length, 1 << 16), this.size - position);
      const buffer = Buffer.allocUnsafe(size);
      const { bytesRead } = await this.file.read(buffer, 0, size, position);
      if (bytesRead < length) throw new MalformedModelError(`file ends at byte ${position + bytesRead}`);
      this.window = buffer.subarray(0, bytesRead);
      this.windowStart = position;
    }
    return this.window.subarray(position - this.windowStart, position - this.windowStart + length);
  }

  /** The tag and extent of the field at `position` (no payload read). */
  async field(
    position: number,
    end: number,
  ): Promise<{ number: number; wireType: number; varint: bigint; start: number; next: number }> {
    const head = await this.bytes(position, Math.min(20, end - position));
    const [tag, afterTag] = readVarint(head, 0);
    const number = Number(tag >> 3n);
    const wireType = Number(tag & 7n);
    let varint = 0n;
    let start = position + afterTag;
    let next: number;
    if (wireType === WireType.VARINT) {
      const [value, after] = readVarint(head, afterTag);
      varint = value;
      next = position + after;
    } else if (wireType === WireType.FIXED64) next = start + 8;
    else if (wireType === WireType.FIXED32) next = start + 4;
    else if (wireType === WireType.LENGTH_DELIMITED) {
      const [length, afterLength] = readVarint(head, afterTag);
      start = position + afterLength;
      next = start + Number(length);
    } else throw new MalformedModelError(`unsupported wire type ${wireType} at byte ${position}`);
    if (number === 0 || next > end)
      throw new MalformedModelError(`field at byte ${position} runs past the end of its message`);
    return { number, wireType, varint, start, next };
  }
}

/** TensorProto fields that hold element data (float_data … raw_data, double_data, uint64_data). */
const TENSOR_DATA_FIELDS = new Set([4, 5, 6, 7, 9, 10, 11]);

/** An initializer's name, dims and type, its element data skipped. */
async function skimTensor(file: FileWindow, start: number, end: number): Promise<TensorProto> {
  const kept: Uint8Array[] = [];
  for (let position = start; position < end;) {
    const field = await file.field(position, end);
    if (!(field.wireType === WireType.LENGTH_DELIMITED && TENSOR_DATA_FIELDS.has(field.number))) {
      kept.push(await file.bytes(position, field.next - position));
    }
    position = field.next;
  }
  const { name, dims, dataType } = decodeTensor(Buffer.concat(kept));
  return { name, dims, dataType };
}

/**
 * The structure of an ONNX file without reading its weights: opsets, nodes (with their attributes, small
 * Constant tensors included), graph inputs and outputs, and each initializer's name, dims and data type but
 * no data. Reads a few MB of a 500 MB model. For inspection only: the result cannot be written back.
 */
export async function readModelStructure(path: string): Promise<ModelProto> {
  const handle = await open(path, 'r');
  try {
    const file = new FileWindow(handle, (await handle.stat()).size);
    let irVersion = 0;
    let producerName = '';
    let producerVersion = '';
    const opsetImports: OperatorSetIdProto[] = [];
    let graph: GraphProto | undefined;
    for (let position = 0; position < file.size;) {
      const field = await file.field(position, file.size);
      const isMessage = field.wireType === WireType.LENGTH_DELIMITED;
      if (field.number === 1 && field.wireType === WireType.VARINT) irVersion = Number(field.varint);
      else if (field.number === 2 && isMessage)
        producerName = textDecoder.decode(await file.bytes(field.start, field.next - field.start));
      else if (field.number === 3 && isMessage)
        producerVersion = textDecoder.decode(await file.bytes(field.start, field.next - field.start));
      else if (field.number === 8 && isMessage)
        opsetImports.push(decodeOpset(await file.bytes(field.start, field.next - field.start)));
      else if (field.number === 7 && isMessage) graph = await skimGraph(file, field.start, field.next);
      position = field.next;
    }
    if (!graph) throw new MalformedModelError('it has no graph');
    return { irVersion, opsetImports, producerName, producerVersion, graph };
  } catch (error) {
    if (error instanceof MalformedModelError || error instanceof TypeError) {
      throw new Error(`${path}: not a valid ONNX model: ${error.message}`);
    }
    throw error;
  } finally {
    await handle.close();
  }
}

async function skimGraph(file: FileWindow, start: number, end: number): Promise<GraphProto> {
  const nodes: NodeProto[] = [];
  const initializers: TensorProto[] = [];
  const inputs: ValueInfoProto[] = [];
  const outputs: ValueInfoProto[] = [];
  let name = '';
  for (let position = start; position < end;) {
    const field = await file.field(position, end);
    if (field.wireType === WireType.LENGTH_DELIMITED) {
      const payload = () => file.bytes(field.start, field.next - field.start);
      if (field.number === 1) nodes.push(decodeNode(await payload()));
      else if (field.number === 2) name = textDecoder.decode(await payload());
      else if (field.number === 5) initializers.push(await skimTensor(file, field.start, field.next));
      else if (field.number === 11) inputs.push(decodeValueInfo(await payload()));
      else if (field.number === 12) outputs.push(decodeValueInfo(await payload()));
    }
    position = field.next;
  }
  return { name, nodes, initializers, inputs, outputs };
}

function withUnknown(fields: Uint8Array[]): { unknownFields?: Uint8Array[] } {
  return fields.length > 0 ? { unknownFields: fields } : {};
}
