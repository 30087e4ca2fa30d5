import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { downloadVerified, sizeOf, type PlannedFile } from './download';
import { ModelPullError } from './errors';
import { DEFAULT_ENDPOINT, HubClient, type TreeEntry } from './hub-client';
import { formatBytes } from './progress';

export const DEFAULT_REPO = 'Xenova/twitter-roberta-base-sentiment-latest';
/**
 * What `npm run model:pull` fetches unless told otherwise: the repo's main branch, resolved to a commit at
 * pull time and recorded in MANIFEST_FILE, so a pulled directory always says exactly which weights it
 * holds. Deployments pin one with `--revision <commit>` (or MODEL_REVISION for `npm start`).
 */
export const DEFAULT_REVISION = 'main';
export const MANIFEST_FILE = '.model-pull.json';

export type ModelVariant = 'fp32' | 'int8';
const MODEL_FILE_BY_VARIANT: Record<ModelVariant, string> = {
  fp32: 'onnx/model.onnx',
  int8: 'onnx/model_quantized.onnx',
};
// What the worker reads besides the graph.
const REQUIRED_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json'];
// The rest of the tokenizer, for other tools (transformers, optimum); taken when the repo has them.
const OPTIONAL_FILES = ['special_tokens_map.json', 'vocab.json', 'merges.txt'];
const FULL_COMMIT = /^[0-9a-f]{40}$/;
const REPO_ID = /^[\w.-]+\/[\w.-]+$/;

export function isModelVariant(value: string): value is ModelVariant {
  return Object.hasOwn(MODEL_FILE_BY_VARIANT, value);
}

export interface PullModelOptions {
  /** The model directory to create; it appears complete or not at all. */
  outDir: string;
  repo?: string;
  /** Branch, tag or commit; the files come from the one commit it names when the pull starts. */
  revision?: string;
  variant?: ModelVariant;
  /** The Hub or a mirror (HF_ENDPOINT). */
  endpoint?: string;
  /** HF_TOKEN; sent to the endpoint only and never printed. */
  token?: string;
  /** Progress bars and status lines. */
  output?: NodeJS.WritableStream;
  timeoutMs?: number;
  maxAttempts?: number;
  retryDelayMs?: number;
  /**
   * Calls the pull off (PullCancelledError): requests in flight are aborted, and what was downloaded stays in the
   * staging folder for the next pull of the same commit to resume.
   */
  signal?: AbortSignal;
}

/** What .model-pull.json records in a pulled directory. */
export interface PullManifest {
  repo: string;
  /** The commit sha the files come from. */
  revision: string;
  variant: ModelVariant;
  files: PlannedFile[];
}

export interface PullModelResult extends PullManifest {
  outDir: string;
  /** True when outDir already held this commit and variant, so nothing was downloaded. */
  skipped: boolean;
}

/** HF_ENDPOINT and HF_TOKEN, as huggingface_hub reads them; empty values count as unset. */
export function hubSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): {
  endpoint: string;
  token?: string;
} {
  return { endpoint: env.HF_ENDPOINT || DEFAULT_ENDPOINT, token: env.HF_TOKEN || undefined };
}

/**
 * Downloads a model directory (one ONNX variant, config and tokenizer files) from the Hugging Face Hub into
 * a staging folder next to outDir, checks every file's size and hash against the Hub's listing, then
 * renames the folder into place. Interrupted downloads resume on the next call.
 */
export async function pullModel(options: PullModelOptions): Promise<PullModelResult> {
  const outDir = resolve(options.outDir);
  const repo = options.repo ?? DEFAULT_REPO;
  const revision = options.revision ?? DEFAULT_REVISION;
  const variant = options.variant ?? 'fp32';
  const output = options.output ?? process.stderr;
  const log = (line: string) => output.write(`${line}\n`);
  if (!REPO_ID.test(repo)) throw new ModelPullError(`repo must look like OWNER/NAME, got "${repo}"`);
  if (revision.trim() === '') throw new ModelPullError('revision must not be empty');

  const existing = await readManifest(outDir);
  if (existsSync(outDir) && !existing) {
    throw new ModelPullError(
      `${outDir} exists and was not written by model:pull (no ${MANIFEST_FILE}); ` +
        'remove it or choose another output folder',
    );
  }
  const alreadyThere = async (commit: string): Promise<PullModelResult | undefined> => {
    const same = existing?.repo === repo && existing.variant === variant && existing.revision === commit;
    if (!existing || !same || !(await holdsAllFiles(outDir, existing))) return undefined;
    log(`${outDir} already holds ${repo} at ${commit} (${variant}); nothing to download`);
    return { ...existing, outDir, skipped: true };
  };
  // A pinned commit needs no network to tell the folder is current; a branch or tag is resolved first.
  if (FULL_COMMIT.test(revision)) {
    const kept = await alreadyThere(revision);
    if (kept) return kept;
  }

  const hub = new HubClient({
    endpoint: options.endpoint ?? DEFAULT_ENDPOINT,
    token: options.token,
    timeoutMs: options.timeoutMs ?? 30_000,
    maxAttempts: options.maxAttempts ?? 4,
    retryDelayMs: options.retryDelayMs ?? 1_000,
    log,
    signal: options.signal,
  });
  log(`Pulling ${repo} (${variant}) at ${revision} from ${hub.endpoint}`);
  const commit = await hub.resolveCommit(repo, revision);
  if (commit !== revision) {
    const kept = await alreadyThere(commit);
    if (kept) return kept;
  }

  const manifest: PullManifest = {
    repo,
    revision: commit,
    variant,
    files: planFiles(await hub.listTree(repo, commit), repo, commit, variant),
  };
  const totalBytes = manifest.files.reduce((sum, file) => sum + file.size, 0);
  log(`${repo} at ${commit}: ${manifest.files.length} files, ${formatBytes(totalBytes)}`);

  const stagingDir = join(dirname(outDir), `.${basename(outDir)}.pulling`);
  await prepareStaging(stagingDir, manifest);
  for (const file of manifest.files) {
    hub.throwIfCancelled();
    const stagedPath = join(stagingDir, file.path);
    // Files get their own name only once verified, so one of the right size is done.
    if ((await sizeOf(stagedPath)) === file.size) continue;
    await mkdir(dirname(stagedPath), { recursive: true });
    const partialPath = `${stagedPath}.part`;
    await downloadVerified({
      hub,
      url: hub.fileUrl(repo, commit, file.path),
      file,
      target: { repo, revision: commit, path: file.path },
      partialPath,
      output,
    });
    await rename(partialPath, stagedPath);
  }
  hub.throwIfCancelled();
  await moveIntoPlace(stagingDir, outDir, existing !== undefined);
  log(`Model ready in ${outDir} (${repo} at ${commit}, ${variant})`);
  return { ...manifest, outDir, skipped: false };
}

function planFiles(entries: TreeEntry[], repo: string, commit: string, variant: ModelVariant): PlannedFile[] {
  const files = new Map(entries.filter((entry) => entry.type === 'file').map((entry) => [entry.path, entry]));
  const required = [MODEL_FILE_BY_VARIANT[variant], ...REQUIRED_FILES];
  const missing = required.filter((path) => !files.has(path));
  if (missing.length > 0) {
    const onnxFiles = [...files.keys()].filter((path) => path.endsWith('.onnx'));
    throw new ModelPullError(
      `${repo} at ${commit} has no ${missing.join(', ')} (needed for the ${variant} variant); ` +
        `its ONNX files: ${onnxFiles.join(', ') || 'none'}`,
    );
  }
  const planned: PlannedFile[] = [];
  for (const path of [...required, ...OPTIONAL_FILES]) {
    const entry = files.get(path);
    if (!entry) continue;
    planned.push(
      entry.lfs
        ? { path, size: entry.lfs.size, algorithm: 'sha256', digest: entry.lfs.oid }
        : { path, size: entry.size, algorithm: 'git-blob-sha1', digest: entry.oid },
    );
  }
  return planned;
}

async function readManifest(dir: string): Promise<PullManifest | undefined> {
  try {
    const manifest = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as Partial<PullManifest>;
    const valid =
      typeof manifest.repo === 'string' &&
      typeof manifest.revision === 'string' &&
      typeof manifest.variant === 'string' &&
      Array.isArray(manifest.files);
    return valid ? (manifest as PullManifest) : undefined;
  } catch {
    return undefined; // Missing or unreadable: treated as not pulled.
  }
}

async function holdsAllFiles(dir: string, manifest: PullManifest): Promise<boolean> {
  for (const file of manifest.files) {
    if ((await sizeOf(join(dir, file.path))) !== file.size) return false;
  }
  return true;
}

/** Keeps what an earlier run of the same pull left in the staging folder; anything else starts afresh. */
async function prepareStaging(stagingDir: string, manifest: PullManifest): Promise<void> {
  const staged = await readManifest(stagingDir);
  const samePull =
    staged?.repo === manifest.repo &&
    staged.revision === manifest.revision &&
    staged.variant === manifest.variant;
  if (samePull) return;
  await rm(stagingDir, { recursive: true, force: true });
  await mkdir(stagingDir, { recursive: true });
  await writeFile(join(stagingDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Renames the complete staging folder to outDir; an earlier pull there is swapped out, then deleted. */
async function moveIntoPlace(stagingDir: string, outDir: string, replacing: boolean): Promise<void> {
  if (!replacing) {
    await rename(stagingDir, outDir);
    return;
  }
  const replacedDir = join(dirname(outDir), `.${basename(outDir)}.replaced`);
  await rm(replacedDir, { recursive: true, force: true });
  await rename(outDir, replacedDir);
  await rename(stagingDir, outDir);
  await rm(replacedDir, { recursive: true, force: true });
}
