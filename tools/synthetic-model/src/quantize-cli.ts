/**
 * Usage: tsx tools/synthetic-model/src/quantize-cli.ts MODEL_DIR [--weight-type uint8|int8] [--reduce-range]
 *        [--per-tensor] [--operator MatMulInteger|DynamicQuantizeMatMul] [--exclude NODE]...
 *
 * Quantizes MODEL_DIR's onnx/model.onnx (or model.onnx), any fp32 ONNX graph such as the Hub export, into
 * model_quantized.onnx beside it, which the worker loads with MODEL_VARIANT=int8. The file appears
 * atomically (written to a temporary name, then renamed).
 */
// First: the imports below need the workspace's path aliases.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  DEFAULT_QUANTIZE_OPTIONS,
  modelPaths,
  quantizeModelFile,
  type QuantizeOptions,
} from '@reputation-monitor/onnx-graph';

const USAGE =
  'Usage: npm run model:quantize -- MODEL_DIR [--weight-type uint8|int8] [--reduce-range] [--per-tensor] ' +
  '[--operator MatMulInteger|DynamicQuantizeMatMul] [--exclude NODE]...';

class UsageError extends Error {}

function parseCliOptions(args: string[]): { modelDir: string; options: QuantizeOptions } {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        'weight-type': { type: 'string', default: DEFAULT_QUANTIZE_OPTIONS.weightType },
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
  const weightType = values['weight-type'];
  if (weightType !== 'int8' && weightType !== 'uint8') {
    throw new UsageError(`--weight-type must be int8 or uint8, got "${weightType}"`);
  }
  const operator = values.operator;
  if (operator !== 'MatMulInteger' && operator !== 'DynamicQuantizeMatMul') {
    throw new UsageError(`--operator must be MatMulInteger or DynamicQuantizeMatMul, got "${operator}"`);
  }
  return {
    modelDir: resolve(positionals[0]),
    options: {
      weightType,
      operator,
      reduceRange: values['reduce-range'],
      perChannel: !values['per-tensor'],
      excludeNodes: values.exclude,
    },
  };
}

async function main(): Promise<void> {
  const { modelDir, options } = parseCliOptions(process.argv.slice(2));
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

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    console.error(`${error.message}\n${USAGE}`);
    process.exitCode = 2;
  } else {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
});
