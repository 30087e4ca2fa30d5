export {
  AttributeType,
  encodeModel,
  float32RawData,
  int32RawData,
  int64RawData,
  TensorDataType,
  writeModelFile,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type OperatorSetIdProto,
  type TensorProto,
  type UnknownFields,
  type ValueInfoProto,
} from './onnx-proto';
export { decodeModel, readModelFile, readModelStructure } from './onnx-reader';
export {
  DEFAULT_QUANTIZE_OPTIONS,
  float32Values,
  modelPaths,
  quantizeModel,
  quantizeModelFile,
  quantizeWeight,
  type QuantizationSummary,
  type QuantizedMatMulOperator,
  type QuantizeOptions,
  type QuantizedWeight,
  type WeightType,
} from './quantize';
export {
  findClassifierHead,
  LOGITS_OUTPUT,
  NoClassifierHeadError,
  withFeatureOutput,
  withHeadWeights,
  type ClassifierHead,
  type HeadWeights,
  type WeightLayout,
} from './classifier-head';
export {
  chooseWeightType,
  cpuFeaturesFrom,
  INT8_DOT_PRODUCT_FLAGS,
  isSlowWeightTypeFor,
  measuredInt8Speedup,
  parseCpuFlags,
  readCpuFeatures,
  type CpuFeatures,
  type WeightTypeChoice,
} from './cpu-int8';
export {
  describeQuantization,
  QUANTIZED_OP_TYPES,
  type GraphQuantization,
  type QuantizedWeightType,
} from './quantization-info';
