import { execFileSync } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';

export const WORKSPACE_ROOT = resolve(__dirname, '../../../..');
export const TSX = join(WORKSPACE_ROOT, 'node_modules/.bin/tsx');

/** Every file under dir, by its path relative to dir with forward slashes. */
export async function readTree(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const path of (await readdir(dir, { recursive: true })).sort()) {
    const fullPath = join(dir, path);
    if ((await stat(fullPath)).isFile()) files.set(path.split('\\').join('/'), await readFile(fullPath));
  }
  return files;
}

/**
 * The files of a Hub repo shaped like Xenova/twitter-roberta-base-sentiment-latest: the tiny synthetic
 * model and the real tokenizer, plus an int8 graph and files a pull must leave alone.
 */
export async function syntheticRepoFiles(workDir: string): Promise<Map<string, Buffer>> {
  const modelDir = join(workDir, 'synthetic-tiny');
  execFileSync(TSX, [
    join(WORKSPACE_ROOT, 'tools/synthetic-model/src/cli.ts'),
    '--preset',
    'tiny',
    '--out',
    modelDir,
  ]);
  const files = await readTree(modelDir);
  const graph = files.get('onnx/model.onnx');
  if (!graph) throw new Error(`the synthetic model has no onnx/model.onnx: ${[...files.keys()].join(', ')}`);
  files.set('onnx/model_quantized.onnx', Buffer.concat([Buffer.from('int8'), graph.subarray(0, 2_000_000)]));
  files.set('onnx/model_fp16.onnx', Buffer.from('not asked for'));
  files.set('README.md', Buffer.from('# twitter-roberta-base-sentiment-latest\n'));
  return files;
}
