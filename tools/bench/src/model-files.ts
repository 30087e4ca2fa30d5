/** The model the benchmark runs: the base synthetic model, generated when missing, and its int8 graph. */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { MODEL_FILE_CANDIDATES } from '@reputation-monitor/model-runtime';
import {
  chooseWeightType,
  describeQuantization,
  isSlowWeightTypeFor,
  readCpuFeatures,
  readModelStructure,
} from '@reputation-monitor/onnx-graph';

export function hasVariant(modelDir: string, variant: 'fp32' | 'int8'): boolean {
  return MODEL_FILE_CANDIDATES[variant].some((file) => existsSync(join(modelDir, file)));
}

/**
 * Generates the `base` synthetic model into `modelDir` when it has no model and is a synthetic-* folder, and
 * regenerates a synthetic model written before the generator followed the export's layout (its config.json has
 * no `synthetic.layout`): ONNX Runtime fuses that graph differently from the real export
 * (docs/adr/0005-representative-synthetic-graph.md).
 */
export function ensureModel(root: string, modelDir: string, log: (message: string) => void): void {
  const cli = join(root, 'tools/synthetic-model/src/cli.ts');
  if (existsSync(join(modelDir, 'config.json')) && hasVariant(modelDir, 'fp32')) {
    const synthetic = syntheticSettings(modelDir);
    if (!synthetic || synthetic.layout) return;
    log(
      `${modelDir} predates the export layout of the synthetic graph: regenerating it (an int8 graph beside it is dropped and remade when the int8 rows run)`,
    );
    execFileSync(
      join(root, 'node_modules/.bin/tsx'),
      [cli, '--preset', synthetic.preset, '--seed', String(synthetic.seed), '--out', modelDir],
      { cwd: root, stdio: 'inherit' },
    );
    return;
  }
  if (!/^synthetic-base/.test(basename(modelDir)))
    throw new Error(
      `no model at ${modelDir} (pass --model-dir, or leave it at models/synthetic-base to generate one)`,
    );
  log(`generating the base synthetic model into ${modelDir} (about 500 MB, once)`);
  execFileSync(join(root, 'node_modules/.bin/tsx'), [cli, '--preset', 'base', '--out', modelDir], {
    cwd: root,
    stdio: 'inherit',
  });
}

export interface Int8Availability {
  available: boolean;
  note: string;
}

function syntheticSettings(
  modelDir: string,
): { preset: string; seed: number; layout?: { opset: number; attention: string } } | undefined {
  try {
    const config = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as {
      synthetic?: { preset: string; seed: number; layout?: { opset: number; attention: string } };
    };
    return config.synthetic;
  } catch {
    return undefined;
  }
}

/**
 * Makes sure the int8 graph (`onnx/model_quantized.onnx`) is there. For a synthetic model it asks the
 * synthetic-model tool for one (the generator's `--int8` flag, else its quantizer CLI) when that tool
 * has it; otherwise the int8 rows are skipped with the reason.
 */
export function ensureInt8(root: string, modelDir: string, log: (message: string) => void): Int8Availability {
  if (hasVariant(modelDir, 'int8')) return { available: true, note: 'present' };
  const synthetic = syntheticSettings(modelDir);
  const missing = `${modelDir} has no ${MODEL_FILE_CANDIDATES.int8.join(' or ')}`;
  if (!synthetic)
    return { available: false, note: `${missing} (not a synthetic model, so nothing here makes one)` };

  const tsx = join(root, 'node_modules/.bin/tsx');
  const quantizeCli = join(root, 'tools/synthetic-model/src/quantize-cli.ts');
  // The generator's own --int8 flag first (it adds a missing int8 graph to an up-to-date model), then the quantizer.
  const attempts: Array<{ what: string; args: string[] }> = [
    {
      what: 'synthetic-model --int8',
      args: [
        join(root, 'tools/synthetic-model/src/cli.ts'),
        '--preset',
        synthetic.preset,
        '--seed',
        String(synthetic.seed),
        '--int8',
        '--out',
        modelDir,
      ],
    },
  ];
  if (existsSync(quantizeCli)) attempts.push({ what: 'quantize-cli', args: [quantizeCli, modelDir] });
  const failures: string[] = [];
  for (const attempt of attempts) {
    log(`${missing}: trying ${attempt.what}`);
    try {
      execFileSync(tsx, attempt.args, { cwd: root, stdio: ['ignore', 'inherit', 'pipe'] });
    } catch (error) {
      const stderr = String((error as { stderr?: Buffer }).stderr ?? '').trim();
      failures.push(`${attempt.what}: ${stderr.split('\n').slice(-1)[0] || (error as Error).message}`);
      continue;
    }
    if (hasVariant(modelDir, 'int8')) return { available: true, note: `made by ${attempt.what}` };
    failures.push(`${attempt.what} ran but wrote no int8 graph`);
  }
  return {
    available: false,
    note: `${missing}, and tools/synthetic-model cannot make one yet (${failures.join('; ')})`,
  };
}

/**
 * The quantization of the directory's int8 graph in one line, and whether it suits this CPU: the int8 rows
 * (raw, seed, peer, full-batch) run on that graph as it is.
 */
export async function describeInt8Graph(modelDir: string): Promise<string | undefined> {
  const path = MODEL_FILE_CANDIDATES.int8
    .map((file) => join(modelDir, file))
    .find((file) => existsSync(file));
  if (!path) return undefined;
  const cpu = readCpuFeatures();
  try {
    const quantization = describeQuantization(await readModelStructure(path));
    const perChannel =
      quantization.perChannel === true
        ? 'per channel'
        : quantization.perChannel === false
          ? 'per tensor'
          : '';
    const slow = isSlowWeightTypeFor(quantization.weightType, cpu)
      ? `; SLOW for this CPU, ${chooseWeightType(cpu).weightType} would suit it (npm run model:quantize)`
      : '';
    return `${quantization.weightType} weights${perChannel && `, ${perChannel}`}, ${quantization.opTypes.join(' + ') || 'no quantized ops'}${slow}`;
  } catch (error) {
    return `unreadable (${(error as Error).message})`;
  }
}
