/**
 * Usage: tsx tools/synthetic-model/src/cli.ts [--preset tiny|small|base] [--out DIR] [--seed N]
 *        [--tokenizer DIR] [--opset N] [--attention eager|sdpa] [--int8] [--force]
 *
 * Writes a synthetic twitter-roberta-base-sentiment-latest directory, laid out like the optimum export
 * (opset 11, eager attention unless --opset / --attention say otherwise); with --int8 also its dynamically
 * quantized onnx/model_quantized.onnx, with the weight type `npm run model:quantize` picks for this CPU
 * (--weight-type auto). An existing output with the same preset, seed and layout is kept unless --force is
 * given (with --int8, a missing int8 graph is then added).
 */
// First: the imports below need the workspace's path aliases.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  chooseWeightType,
  quantizeModelFile,
  readCpuFeatures,
  type QuantizeOptions,
} from '@reputation-monitor/onnx-graph';
import { DEFAULT_SEED, generateSyntheticModel, type RobertaConfigJson } from './generate';
import { isPresetName, PRESETS, type PresetName } from './presets';
import { checkLayout, DEFAULT_LAYOUT, type GraphLayout } from './roberta-graph';

/** The workspace root (this file is tools/<tool>/src/cli.ts), so defaults do not depend on the current directory. */
const WORKSPACE_ROOT = resolve(__dirname, '../../..');

const USAGE =
  'Usage: tsx tools/synthetic-model/src/cli.ts [--preset tiny|small|base] [--out DIR] [--seed N] ' +
  '[--tokenizer DIR] [--opset N] [--attention eager|sdpa] [--int8] [--force]';

class UsageError extends Error {}

interface CliOptions {
  preset: PresetName;
  outDir: string;
  seed: number;
  tokenizerDir: string;
  layout: GraphLayout;
  int8: boolean;
  force: boolean;
}

function readFlags(args: string[]) {
  try {
    return parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        preset: { type: 'string', default: 'tiny' },
        out: { type: 'string' },
        seed: { type: 'string', default: String(DEFAULT_SEED) },
        tokenizer: { type: 'string' },
        opset: { type: 'string', default: String(DEFAULT_LAYOUT.opset) },
        attention: { type: 'string', default: DEFAULT_LAYOUT.attention },
        int8: { type: 'boolean', default: false },
        force: { type: 'boolean', default: false },
      },
    }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function parseCliOptions(args: string[]): CliOptions {
  const values = readFlags(args);
  const preset = values.preset;
  if (!isPresetName(preset)) {
    throw new UsageError(`Unknown preset "${preset}"; choose one of ${Object.keys(PRESETS).join(', ')}`);
  }
  const seed = Number(values.seed);
  if (!/^\d+$/.test(values.seed) || seed > 0xffffffff) {
    throw new UsageError(`--seed must be an integer from 0 to 4294967295, got "${values.seed}"`);
  }
  // Paths given on the command line are relative to the current directory; defaults to the workspace.
  const tokenizerDir = values.tokenizer
    ? resolve(values.tokenizer)
    : resolve(WORKSPACE_ROOT, '../shared/data/roberta-tokenizer');
  if (!existsSync(tokenizerDir)) throw new UsageError(`Tokenizer directory not found: ${tokenizerDir}`);
  const outDir = values.out ? resolve(values.out) : join(WORKSPACE_ROOT, 'models', `synthetic-${preset}`);
  const layout = { opset: Number(values.opset), attention: values.attention } as GraphLayout;
  try {
    checkLayout(layout);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return { preset, outDir, seed, tokenizerDir, layout, int8: values.int8, force: values.force };
}

/** True when outDir already holds a complete model generated with the same preset, seed and layout. */
function isUpToDate({ outDir, preset, seed, layout }: CliOptions): boolean {
  const configPath = join(outDir, 'config.json');
  if (!existsSync(configPath) || !existsSync(join(outDir, 'onnx', 'model.onnx'))) return false;
  try {
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as Partial<RobertaConfigJson>;
    const written = config.synthetic;
    return (
      written?.preset === preset &&
      written.seed === seed &&
      written.layout?.opset === layout.opset &&
      written.layout.attention === layout.attention
    );
  } catch {
    return false; // An unreadable config.json is rebuilt like a missing one.
  }
}

const megabytes = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MB`;
const describeLayout = ({ opset, attention }: GraphLayout) => `opset ${opset}, ${attention} attention`;

/** The quantizer's settings with the weight type for this CPU, as `npm run model:quantize` picks it. */
function int8Settings(): QuantizeOptions {
  const choice = chooseWeightType(readCpuFeatures());
  console.log(`int8 graph with ${choice.weightType} weights: ${choice.reason}`);
  return { weightType: choice.weightType };
}

async function main(): Promise<void> {
  const options = parseCliOptions(process.argv.slice(2));
  const started = performance.now();
  const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
  if (!options.force && isUpToDate(options)) {
    console.log(
      `${options.outDir} already holds preset ${options.preset}, seed ${options.seed}, ` +
        `${describeLayout(options.layout)}; use --force to rebuild`,
    );
    const quantizedPath = join(options.outDir, 'onnx', 'model_quantized.onnx');
    if (options.int8 && !existsSync(quantizedPath)) {
      const result = await quantizeModelFile(
        join(options.outDir, 'onnx', 'model.onnx'),
        quantizedPath,
        int8Settings(),
      );
      console.log(`Wrote ${quantizedPath}: ${megabytes(result.bytes)}, ${seconds()} s`);
    }
    return;
  }
  const result = await generateSyntheticModel({ ...options, int8: options.int8 && int8Settings() });
  console.log(
    `Wrote ${result.modelPath}: preset ${options.preset}, seed ${options.seed}, ${describeLayout(options.layout)}, ` +
      `${megabytes(result.bytes)}, ${(result.parameterCount / 1e6).toFixed(2)}M parameters, ${seconds()} s`,
  );
  if (result.quantized) {
    console.log(
      `Wrote ${result.quantized.modelPath}: ${result.quantized.quantized.length} MatMuls in int8, ` +
        `${megabytes(result.quantized.bytes)}`,
    );
  }
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
