import { access, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { checkId2Label } from '@reputation-monitor/contracts';

/** fp32 is the plain export; int8 is the dynamically quantized graph the Hub export ships beside it. */
export type ModelVariant = 'fp32' | 'int8';

/** Where the Hugging Face / optimum export layouts put each variant, in the order they are tried. */
export const MODEL_FILE_CANDIDATES: Record<ModelVariant, readonly string[]> = {
  fp32: ['onnx/model.onnx', 'model.onnx'],
  int8: ['onnx/model_quantized.onnx', 'model_quantized.onnx'],
};

export interface ModelConfig {
  id2label: Record<string, string>;
  _name_or_path?: string;
  max_position_embeddings?: number;
  pad_token_id?: number;
  synthetic?: { preset: string; seed: number };
  [key: string]: unknown;
}

export interface ModelDirectory {
  dir: string;
  variant: ModelVariant;
  modelPath: string;
  config: ModelConfig;
  /** Size of the ONNX file in bytes. */
  modelBytes: number;
}

/**
 * Resolves a model directory in the Hub/optimum export layout and checks its config against the label
 * schema. Fails with a message that names what is missing, so a wrong MODEL_DIR is obvious at boot.
 */
export async function openModelDirectory(
  dir: string,
  variant: ModelVariant = 'fp32',
): Promise<ModelDirectory> {
  try {
    const info = await stat(dir);
    if (!info.isDirectory()) throw new Error(`model directory ${dir} is not a directory`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error(`model directory ${dir} does not exist`);
    throw error;
  }

  let modelPath: string | undefined;
  for (const candidate of MODEL_FILE_CANDIDATES[variant]) {
    const path = join(dir, candidate);
    if (await exists(path)) {
      modelPath = path;
      break;
    }
  }
  if (!modelPath) {
    throw new Error(
      `model directory ${dir} has no ${variant} ONNX graph (looked for ${MODEL_FILE_CANDIDATES[variant].join(', ')})`,
    );
  }

  const configPath = join(dir, 'config.json');
  let config: ModelConfig;
  try {
    config = JSON.parse(await readFile(configPath, 'utf8')) as ModelConfig;
  } catch (error) {
    throw new Error(`cannot read ${configPath}: ${(error as Error).message}`);
  }
  const labelProblems = checkId2Label(config.id2label);
  if (labelProblems.length > 0) {
    throw new Error(`${configPath} does not match the sentiment label schema: ${labelProblems.join('; ')}`);
  }
  if (!(await exists(join(dir, 'tokenizer.json')))) {
    throw new Error(`model directory ${dir} has no tokenizer.json`);
  }
  return { dir, variant, modelPath, config, modelBytes: (await stat(modelPath)).size };
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
