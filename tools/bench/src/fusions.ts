/**
 * `npm run bench:fusions`: which fused kernels ONNX Runtime applies to the benchmark's graphs, side by side
 * with the graphs of the exports they stand for (docs/adr/0005-representative-synthetic-graph.md).
 *
 * Each graph is optimized once at level "all" (as the worker and the benchmark load it) and the op types of
 * the optimized graph are counted. Columns: the model directory's fp32 and int8 graphs, then reference
 * layouts of the same preset and seed written by the synthetic-model generator (the torch export at opset 11
 * with eager attention, at opset 14 with SDPA, at opset 17 with LayerNormalization nodes), then any --graph.
 * A real export (e.g. `npm run model:pull`'s directory) can be compared with --model-dir or --graph.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { MODEL_FILE_CANDIDATES } from '@reputation-monitor/model-runtime';
import { optimizedOpCounts, opCountTable, type GraphCounts } from './fusion-counts';
import { ensureModel } from './model-files';

const ROOT = resolve(__dirname, '../../..');
const SCRATCH = join(ROOT, 'tmp/bench/fusions');

const USAGE = `Usage: npm run bench:fusions -- [options]

  --model-dir DIR     the graphs to inspect (default models/synthetic-base, generated when missing)
  --references LIST   export layouts to compare with, as opset/attention (default 11/eager,14/sdpa,17/eager;
                      "none" for none); written by the synthetic-model generator with the model's preset
  --preset NAME       preset of the references when the model directory is not synthetic (default base)
  --no-int8           leave out the int8 graphs
  --graph LABEL=PATH  one more ONNX file to compare (repeatable)`;

interface Reference {
  opset: number;
  attention: 'eager' | 'sdpa';
}

function parseReferences(text: string): Reference[] {
  if (text === 'none') return [];
  return text.split(',').map((item) => {
    const [opset, attention] = item.trim().split('/');
    if (!/^\d+$/.test(opset) || (attention !== 'eager' && attention !== 'sdpa')) {
      throw new Error(`--references: "${item}" is not opset/eager or opset/sdpa`);
    }
    return { opset: Number(opset), attention };
  });
}

function syntheticSettings(
  modelDir: string,
): { preset: string; seed: number; layout?: Reference } | undefined {
  try {
    return (
      JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as {
        synthetic?: { preset: string; seed: number; layout?: Reference };
      }
    ).synthetic;
  } catch {
    return undefined;
  }
}

/** Writes (or reuses) the reference layout's model directory, int8 graph included when asked for. */
function referenceDir(reference: Reference, preset: string, seed: number, int8: boolean): string {
  const dir = join(SCRATCH, `${preset}-seed${seed}-opset${reference.opset}-${reference.attention}`);
  const args = [
    join(ROOT, 'tools/synthetic-model/src/cli.ts'),
    ...['--preset', preset, '--seed', String(seed), '--out', dir],
    ...['--opset', String(reference.opset), '--attention', reference.attention],
    ...(int8 ? ['--int8'] : []),
  ];
  // The generator keeps an up-to-date directory and only adds a missing int8 graph.
  execFileSync(join(ROOT, 'node_modules/.bin/tsx'), args, { cwd: ROOT, stdio: 'inherit' });
  return dir;
}

function graphOf(dir: string, variant: 'fp32' | 'int8'): string | undefined {
  return MODEL_FILE_CANDIDATES[variant].map((file) => join(dir, file)).find((path) => existsSync(path));
}

async function main(): Promise<void> {
  let values;
  try {
    values = parseArgs({
      args: process.argv.slice(2),
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', default: false },
        'model-dir': { type: 'string', default: 'models/synthetic-base' },
        references: { type: 'string', default: '11/eager,14/sdpa,17/eager' },
        preset: { type: 'string', default: 'base' },
        'no-int8': { type: 'boolean', default: false },
        graph: { type: 'string', multiple: true, default: [] },
      },
    }).values;
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const int8 = !values['no-int8'];
  const modelDir = resolve(ROOT, values['model-dir']);
  ensureModel(ROOT, modelDir, (message) => console.log(message));
  const synthetic = syntheticSettings(modelDir);
  const references = parseReferences(values.references);
  mkdirSync(SCRATCH, { recursive: true });

  const graphs: Array<{ label: string; path: string }> = [];
  const name = basename(modelDir);
  const layoutOf = (layout?: Reference) => (layout ? ` (opset ${layout.opset} ${layout.attention})` : '');
  for (const variant of ['fp32', ...(int8 ? ['int8' as const] : [])] as const) {
    const path = graphOf(modelDir, variant);
    if (path) graphs.push({ label: `${name}${layoutOf(synthetic?.layout)} ${variant}`, path });
  }
  for (const reference of references) {
    const same =
      synthetic?.layout?.opset === reference.opset && synthetic.layout.attention === reference.attention;
    if (same) {
      console.log(`${name} is the export layout opset ${reference.opset} ${reference.attention} already`);
      continue;
    }
    const dir = referenceDir(reference, synthetic?.preset ?? values.preset, synthetic?.seed ?? 42, int8);
    for (const variant of ['fp32', ...(int8 ? ['int8' as const] : [])] as const) {
      const path = graphOf(dir, variant);
      if (path)
        graphs.push({ label: `export opset ${reference.opset} ${reference.attention} ${variant}`, path });
    }
  }
  for (const item of values.graph) {
    const [label, path] = item.includes('=') ? item.split(/=(.*)/s) : [basename(item), item];
    graphs.push({ label, path: resolve(path) });
  }

  const counted: GraphCounts[] = [];
  for (const [index, graph] of graphs.entries()) {
    console.log(`optimizing ${relative(ROOT, graph.path)} (${graph.label})`);
    counted.push(await optimizedOpCounts(graph.label, graph.path, join(SCRATCH, `optimized-${index}.onnx`)));
  }
  console.log(
    `\nOp types of the graphs ONNX Runtime runs (graph optimization level "all", CPU); a blank cell is none.\n`,
  );
  console.log(opCountTable(counted));
}

main().catch((error: Error) => {
  console.error(error.stack ?? error.message);
  process.exit(1);
});
