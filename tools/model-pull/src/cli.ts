/**
 * Usage: tsx tools/model-pull/src/cli.ts [--repo OWNER/NAME] [--revision REV] [--variant fp32|int8] [--out DIR]
 *
 * Downloads a model directory from the Hugging Face Hub (HF_ENDPOINT, HF_TOKEN): one ONNX variant plus the
 * config and tokenizer files, verified, resumable, moved into place only when complete.
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  DEFAULT_REPO,
  hubSettingsFromEnv,
  isModelVariant,
  DEFAULT_REVISION,
  pullModel,
  type PullModelOptions,
} from '@reputation-monitor/model-registry';

/** The workspace root (this file is tools/<tool>/src/cli.ts), so defaults do not depend on the current directory. */
const WORKSPACE_ROOT = resolve(__dirname, '../../..');

const DEFAULT_OUT = 'models/twitter-roberta-base-sentiment-latest';
const USAGE = `Usage: npm run model:pull -- [--repo OWNER/NAME] [--revision REV] [--variant fp32|int8] [--out DIR]

  --repo      Hub model repo (default ${DEFAULT_REPO})
  --revision  branch, tag or commit (default ${DEFAULT_REVISION}, recorded as a commit in the pulled directory)
  --variant   fp32: onnx/model.onnx, int8: onnx/model_quantized.onnx (default fp32)
  --out       model directory to create (default ${DEFAULT_OUT} in the workspace)

Environment: HF_ENDPOINT (default https://huggingface.co), HF_TOKEN (for private or gated repos).`;

class UsageError extends Error {}

function readFlags(args: string[]) {
  try {
    return parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        repo: { type: 'string', default: DEFAULT_REPO },
        revision: { type: 'string', default: process.env.MODEL_REVISION ?? DEFAULT_REVISION },
        variant: { type: 'string', default: 'fp32' },
        out: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function parseCliOptions(args: string[]): PullModelOptions | 'help' {
  const values = readFlags(args);
  if (values.help) return 'help';
  const { variant } = values;
  if (!isModelVariant(variant)) throw new UsageError(`--variant must be fp32 or int8, got "${variant}"`);
  // A path given on the command line is relative to the current directory; the default to the workspace.
  const outDir = values.out ? resolve(values.out) : join(WORKSPACE_ROOT, DEFAULT_OUT);
  return { outDir, repo: values.repo, revision: values.revision, variant, ...hubSettingsFromEnv() };
}

async function main(): Promise<void> {
  const options = parseCliOptions(process.argv.slice(2));
  if (options === 'help') {
    console.log(USAGE);
    return;
  }
  await pullModel(options);
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
