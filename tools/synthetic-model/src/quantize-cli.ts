/**
 * Usage: tsx tools/synthetic-model/src/quantize-cli.ts MODEL_DIR [--weight-type auto|int8|uint8]
 *        [--reduce-range] [--per-tensor] [--operator MatMulInteger|DynamicQuantizeMatMul] [--exclude NODE]...
 *
 * --weight-type auto (the default) picks signed int8 weights where the CPU has a VNNI/AMX int8 dot product
 * (avx512_vnni, avx_vnni or amx_int8 in /proc/cpuinfo) and uint8 elsewhere, and says which and why: quantize
 * on (a CPU like) the one that will serve the graph.
 *
 * Quantizes MODEL_DIR's onnx/model.onnx (or model.onnx), any fp32 ONNX graph such as the Hub export, into
 * model_quantized.onnx beside it, which the worker loads with MODEL_VARIANT=int8. The file appears
 * atomically (written to a temporary name, then renamed).
 */
// First: the imports below need the workspace's path aliases.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  chooseWeightType,
  DEFAULT_QUANTIZE_OPTIONS,
  modelPaths,
  quantizeModelFile,
  readCpuFeatures,
  type CpuFeatures,
  type QuantizeOptions,
  type WeightType,
  type WeightTypeChoice,
} from '@reputation-monitor/onnx-graph';

const USAGE =
  'Usage: npm run model:quantize -- MODEL_DIR [--weight-type auto|int8|uint8] [--reduce-range] [--per-tensor] ' +
  '[--operator MatMulInteger|DynamicQuantizeMatMul] [--exclude NODE]...';

class UsageError extends Error {}

interface CliOptions {
  modelDir: string;
  options: QuantizeOptions & { weightType: WeightType };
  /** Why this weight type (auto), or that it was asked for. */
  weightTypeReason: string;
}

/** Parses the command line; `cpu` is only read for --weight-type auto. */
export function parseCliOptions(
  args: string[],
  cpu: () => CpuFeatures = () => readCpuFeatures(),
): CliOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        'weight-type': { type: 'string', default: 'auto' },
        'reduce-range': { type: 'boolean', default: DEFAULT_QUANTIZE_OPTIONS.reduceRange },
        'per-tensor': { type: 'boolean', default: !DEFAULT_QUANTIZE_OPTIONS.perChannel },
        operator: { type: 'string', default: DEFAULT_QUANTIZE_OPTIONS.operator },
        exclude: { type: 'string', multiple: true, default: [] },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError('Give exactly one model directory');
  const asked = values['weight-type'];
  if (asked !== 'auto' && asked !== 'int8' && asked !== 'uint8') {
    throw new UsageError(`--weight-type must be auto, int8 or uint8, got "${asked}"`);
  }
  const choice: WeightTypeChoice =
    asked === 'auto'
      ? chooseWeightType(cpu())
      : { weightType: asked, reason: 'asked for with --weight-type' };
  const operator = values.operator;
  if (operator !== 'MatMulInteger' && operator !== 'DynamicQuantizeMatMul') {
    throw new UsageError(`--operator must be MatMulInteger or DynamicQuantizeMatMul, got "${operator}"`);
  }
  return {
    modelDir: resolve(positionals[0]),
    weightTypeReason: choice.reason,
    options: {
      weightType: choice.weightType,
      operator,
      reduceRange: values['reduce-range'],
      perChannel: !values['per-tensor'],
      excludeNodes: values.exclude,
    },
  };
}

async function main(): Promise<void> {
  const { modelDir, options, weightTypeReason } = parseCliOptions(process.argv.slice(2));
  console.log(`${options.weightType} weights: ${weightTypeReason}`);
  const { fp32, int8 } = modelPaths(modelDir);
  const started = performance.now();
  const result = await quantizeModelFile(fp32, int8, options);
  const seconds = (performance.now() - started) / 1000;
  const mb = (bytes: number) =>
    bytes < 1024 ** 2 ? `${(bytes / 1024).toFixed(1)} kB` : `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  console.log(
    `Wrote ${int8}: ${result.quantized.length} MatMuls quantized (${options.weightType} weights, ` +
      `${options.perChannel ? 'per column' : 'per tensor'}${options.reduceRange ? ', 7-bit' : ''}, ${options.operator}), ` +
      `weights ${mb(result.floatWeightBytes)} -> ${mb(result.quantizedWeightBytes)}, file ${mb(result.bytes)}, ` +
      `${seconds.toFixed(1)} s`,
  );
  const reasons = new Map<string, number>();
  for (const { reason } of result.skipped) reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  for (const [reason, count] of reasons) console.log(`  ${count} MatMul(s) left in float: ${reason}`);
}

if (require.main === module)
  main().catch((error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`${error.message}\n${USAGE}`);
      process.exitCode = 2;
    } else {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    }
  });
