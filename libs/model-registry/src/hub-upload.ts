import { openAsBlob } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import {
  commit,
  createBranch,
  createRepo,
  listFiles,
  modelInfo,
  repoExists,
  type CommitOperation,
} from '@huggingface/hub';
import { describeHubFailure, hubMessage, statusOf } from '@reputation-monitor/hub-errors';

const DEFAULT_BRANCH = 'main';
const REPO_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const FULL_COMMIT = /^[0-9a-f]{40}$/;
// The graph the worker loads first; a directory without either is not a model export.
const MODEL_GRAPHS = ['onnx/model.onnx', 'model.onnx'];
// The Hub keeps it in every repo; a model directory never has one.
const HUB_MANAGED_FILES = new Set(['.gitattributes']);

export interface UploadModelVersionOptions {
  /** The Hub or a mirror (HF_ENDPOINT). */
  endpoint: string;
  /** HF_TOKEN with write access; never put in a message. */
  token: string | undefined;
  /** `<owner>/<name>` of the model repository; created private when missing. */
  repo: string;
  /** The branch that receives the version; created from main when missing. */
  branch: string;
  /** The model directory (optimum export layout: onnx/model.onnx, config.json, tokenizer files, …). */
  dir: string;
  /** Commit title. */
  message: string;
  /** For tests and proxies; the global fetch otherwise. */
  fetch?: typeof fetch;
}

export interface UploadedModelVersion {
  /** The commit holding exactly the directory's files. */
  commit: string;
  branch: string;
  /** Paths uploaded, sorted. */
  files: string[];
}

/** A failed upload, in one line that says what failed, where, and what to check; never the token. */
export class ModelRegistryError extends Error {
  override readonly name = 'ModelRegistryError';
}

/**
 * Uploads a model directory as one commit on a branch of a Hub model repository, through @huggingface/hub:
 * the repo is created (private) and the branch (from main) when missing. The commit also deletes what the
 * branch holds beyond the directory's files, so the branch is exactly this version. Dot-files (such as
 * model-pull's `.model-pull.json`) are not uploaded. Large files go through LFS as the Hub decides.
 */
export async function uploadModelVersion(options: UploadModelVersionOptions): Promise<UploadedModelVersion> {
  const { hubUrl, token } = checkOptions(options);
  const files = await modelFiles(options.dir);
  const hub = new HubTarget({ ...options, token }, hubUrl);
  await hub.createRepoIfMissing();
  const base = await hub.branchBase();
  const present = await hub.filesAt(base);
  const uploaded = new Set(files.map((file) => file.path));
  const operations: CommitOperation[] = [
    ...(await Promise.all(
      files.map(async (file): Promise<CommitOperation> => ({
        operation: 'addOrUpdate',
        path: file.path,
        // File-backed, so a 500 MB graph is streamed rather than held in memory.
        content: await openAsBlob(file.absolute),
      })),
    )),
    ...present
      .filter((path) => !uploaded.has(path) && !HUB_MANAGED_FILES.has(path))
      .map((path): CommitOperation => ({ operation: 'delete', path })),
  ];
  const oid = await hub.commit(operations, base);
  return { commit: oid, branch: options.branch, files: [...uploaded].sort() };
}

function checkOptions(options: UploadModelVersionOptions): { hubUrl: string; token: string } {
  if (!REPO_PATTERN.test(options.repo)) {
    throw new ModelRegistryError(`a Hub model repository must be <owner>/<name>, got "${options.repo}"`);
  }
  if (options.branch.trim() === '' || /\s|\.\.|^\/|\/$/.test(options.branch)) {
    throw new ModelRegistryError(`"${options.branch}" is not a branch name`);
  }
  if (options.message.trim() === '') throw new ModelRegistryError('a model version needs a commit message');
  if (!options.token) {
    throw new ModelRegistryError(
      `uploading to ${options.repo} needs a Hugging Face token with write access: set HF_TOKEN`,
    );
  }
  if (!options.token.startsWith('hf_')) {
    throw new ModelRegistryError('HF_TOKEN is not a Hugging Face token (they start with hf_)');
  }
  let endpoint: URL;
  try {
    endpoint = new URL(options.endpoint);
  } catch {
    throw new ModelRegistryError(`HF_ENDPOINT is not a URL: "${options.endpoint}"`);
  }
  if (endpoint.protocol !== 'https:' && endpoint.protocol !== 'http:') {
    throw new ModelRegistryError(`HF_ENDPOINT must be an http(s) URL, got "${options.endpoint}"`);
  }
  return { hubUrl: endpoint.href.replace(/\/+$/, ''), token: options.token };
}

interface ModelFile {
  /** Repo path, with forward slashes. */
  path: string;
  absolute: string;
}

/** Every regular file below dir, skipping dot-files and dot-folders. */
async function modelFiles(dir: string): Promise<ModelFile[]> {
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch (error) {
    throw new ModelRegistryError(`cannot read the model directory ${dir}: ${(error as Error).message}`);
  }
  const files = entries
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const absolute = join(entry.parentPath, entry.name);
      return { absolute, path: relative(dir, absolute).split(sep).join('/') };
    })
    .filter((file) => !file.path.split('/').some((segment) => segment.startsWith('.')));
  if (!files.some((file) => MODEL_GRAPHS.includes(file.path))) {
    throw new ModelRegistryError(`${dir} is not a model directory: it has no ${MODEL_GRAPHS.join(' or ')}`);
  }
  return files;
}

/** The repo and branch being written, with every Hub call's failure turned into a ModelRegistryError. */
class HubTarget {
  private readonly repoId;
  private readonly access;

  constructor(
    private readonly options: UploadModelVersionOptions & { token: string },
    private readonly hubUrl: string,
  ) {
    this.repoId = { type: 'model' as const, name: options.repo };
    this.access = { accessToken: options.token, hubUrl, fetch: options.fetch };
  }

  async createRepoIfMissing(): Promise<void> {
    try {
      if (await repoExists({ repo: this.repoId, ...this.access })) return;
      await createRepo({ repo: this.repoId, visibility: 'private', ...this.access });
    } catch (error) {
      if (statusOf(error) === 409) return; // created by someone else meanwhile
      throw this.failure(error, 'creating the model repository');
    }
  }

  /**
   * The commit the version goes on top of: the branch's head, or, for a new branch, main's head (on a
   * repo with no version yet that is the Hub's initial commit, the repo's first).
   */
  async branchBase(): Promise<string> {
    const head = await this.headOf(this.options.branch);
    if (head !== undefined) return head;
    const start = await this.headOf(DEFAULT_BRANCH);
    if (start === undefined) {
      throw new ModelRegistryError(
        `cannot create branch ${this.options.branch} of ${this.options.repo}: its ${DEFAULT_BRANCH} branch has no commit to start from`,
      );
    }
    try {
      await createBranch({ repo: this.repoId, branch: this.options.branch, revision: start, ...this.access });
    } catch (error) {
      if (statusOf(error) !== 409) throw this.failure(error, `creating branch ${this.options.branch} of`);
    }
    const created = await this.headOf(this.options.branch);
    if (created === undefined) {
      throw new ModelRegistryError(
        `branch ${this.options.branch} of ${this.options.repo} is missing right after creating it`,
      );
    }
    return created;
  }

  async filesAt(revision: string): Promise<string[]> {
    const paths: string[] = [];
    try {
      for await (const entry of listFiles({ repo: this.repoId, revision, recursive: true, ...this.access })) {
        if (entry.type === 'file') paths.push(entry.path);
      }
    } catch (error) {
      throw this.failure(error, `listing the files at ${revision} of`);
    }
    return paths;
  }

  async commit(operations: CommitOperation[], parentCommit: string): Promise<string> {
    let oid: string | undefined;
    try {
      const output = await commit({
        repo: this.repoId,
        branch: this.options.branch,
        title: this.options.message,
        operations,
        // The Hub refuses the commit when someone else committed to the branch since it was read.
        parentCommit,
        // Plain LFS (basic or multipart), as the Hub still offers and the fake Hub tests: no xet WASM chunker.
        useXet: false,
        ...this.access,
      });
      oid = output?.commit.oid;
    } catch (error) {
      const status = statusOf(error);
      if (status === 412 || status === 409) {
        throw new ModelRegistryError(
          `branch ${this.options.branch} of ${this.options.repo} moved while the version was uploaded ` +
            `(the Hub answered ${status}: ${hubMessage(error)}); nothing was committed, run again`,
        );
      }
      throw this.failure(error, `committing "${this.options.message}" to branch ${this.options.branch} of`);
    }
    if (oid === undefined || !FULL_COMMIT.test(oid)) {
      throw new ModelRegistryError(
        `${this.hubUrl} answered the commit without a commit id; check HF_ENDPOINT`,
      );
    }
    return oid;
  }

  private async headOf(branch: string): Promise<string | undefined> {
    let sha: string | undefined;
    try {
      sha = (
        await modelInfo({
          name: this.options.repo,
          revision: branch,
          additionalFields: ['sha'],
          ...this.access,
        })
      ).sha;
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw this.failure(error, `reading branch ${branch} of`);
    }
    if (typeof sha !== 'string' || !FULL_COMMIT.test(sha)) {
      throw new ModelRegistryError(
        `${this.hubUrl} answered without a commit id for ${branch}; check HF_ENDPOINT`,
      );
    }
    return sha;
  }

  private failure(error: unknown, action: string): ModelRegistryError {
    return new ModelRegistryError(
      describeHubFailure(error, {
        what: `${action} ${this.options.repo}`,
        hubUrl: this.hubUrl,
        token: this.options.token,
        tokenRefused: '',
        forbidden: 'check that HF_TOKEN has write access to the repo',
      }),
    );
  }
}
