import {
  commit,
  createBranch,
  createRepo,
  datasetInfo,
  downloadFile,
  InvalidApiResponseFormatError,
  pathsInfo,
  repoExists,
  type CommitOperation,
} from '@huggingface/hub';
import { describeHubFailure, hubMessage, statusOf } from '@reputation-monitor/hub-errors';
import { ConcurrentChangeError, DatasetBackend, DatasetCommit, MANIFEST_PATH } from './dataset-store';
import { DatasetError } from './manifest';

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';
const DEFAULT_BRANCH = 'main';
const REPO_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const FULL_COMMIT = /^[0-9a-f]{40}$/;

export interface HubConnection {
  /** The Hub or a mirror (HF_ENDPOINT). */
  endpoint: string;
  /** HF_TOKEN: sent to the endpoint only, never put in a message. */
  token?: string;
}

/** HF_ENDPOINT and HF_TOKEN, as huggingface_hub reads them; empty values count as unset. */
export function hubConnectionFromEnv(env: NodeJS.ProcessEnv = process.env): HubConnection {
  return { endpoint: env.HF_ENDPOINT || DEFAULT_HUB_ENDPOINT, token: env.HF_TOKEN || undefined };
}

export interface HubDatasetBackendOptions extends HubConnection {
  /** `<owner>/<name>` of the dataset repository; created (private) by the first commit. */
  repo: string;
  branch?: string;
  /** For tests and proxies; the global fetch otherwise. */
  fetch?: typeof fetch;
}

/**
 * A Hugging Face Hub dataset repository as the store: a revision is a commit id, every change one commit
 * with `parentCommit` set, so the Hub itself refuses a change computed from a head that has moved since.
 * All traffic goes through @huggingface/hub.
 */
export class HubDatasetBackend implements DatasetBackend {
  readonly location: string;
  private readonly repo: string;
  private readonly branch: string;
  private readonly hubUrl: string;
  private readonly token: string | undefined;
  private readonly fetch: typeof fetch | undefined;

  constructor(options: HubDatasetBackendOptions) {
    if (!REPO_PATTERN.test(options.repo)) {
      throw new DatasetError(`a Hub dataset repository must be <owner>/<name>, got "${options.repo}"`);
    }
    let endpoint: URL;
    try {
      endpoint = new URL(options.endpoint);
    } catch {
      throw new DatasetError(`HF_ENDPOINT is not a URL: "${options.endpoint}"`);
    }
    if (endpoint.protocol !== 'https:' && endpoint.protocol !== 'http:') {
      throw new DatasetError(`HF_ENDPOINT must be an http(s) URL, got "${options.endpoint}"`);
    }
    this.repo = options.repo;
    this.branch = options.branch ?? DEFAULT_BRANCH;
    this.hubUrl = endpoint.href.replace(/\/+$/, '');
    this.token = options.token || undefined;
    this.fetch = options.fetch;
    this.location = `hf://datasets/${this.repo}`;
  }

  async head(): Promise<{ revision: string; manifest: Buffer } | undefined> {
    const revision = await this.branchHead();
    if (revision === undefined) return undefined;
    const manifest = await this.download(revision, MANIFEST_PATH);
    return manifest && { revision, manifest };
  }

  /** A Hub commit removes a superseded shard with the commit itself; older versions live in the git history. */
  async removeUnreferenced(): Promise<void> {
    return;
  }

  /** A branch or tag as the commit it points at now; a full commit id as it is. */
  async resolve(revision: string): Promise<string> {
    if (FULL_COMMIT.test(revision)) return revision;
    const sha = await this.commitOf(revision);
    if (sha === undefined) throw new DatasetError(`${this.location} has no revision "${revision}"`);
    return sha;
  }

  async read(revision: string, path: string): Promise<Buffer> {
    const content = await this.download(revision, path);
    if (!content) throw new DatasetError(`${this.location}@${revision} has no ${path}`);
    return content;
  }

  async commit(change: DatasetCommit): Promise<string> {
    const accessToken = this.writeToken();
    const parentCommit = change.parent ?? (await this.prepareFirstSnapshot(accessToken));
    const operations: CommitOperation[] = [
      ...change.files.map((file): CommitOperation => ({
        operation: 'addOrUpdate',
        path: file.path,
        content: asBlob(file.content),
      })),
      { operation: 'addOrUpdate', path: MANIFEST_PATH, content: asBlob(change.manifest) },
      ...change.deletedPaths.map((path): CommitOperation => ({ operation: 'delete', path })),
    ];
    let oid: string | undefined;
    try {
      const output = await commit({
        repo: this.repoId,
        branch: this.branch,
        title: change.message,
        parentCommit,
        // Plain LFS (basic or multipart), as the Hub still offers and the fake Hub tests: no xet WASM chunker.
        useXet: false,
        operations,
        accessToken,
        hubUrl: this.hubUrl,
        fetch: this.fetch,
      });
      oid = output?.commit.oid;
    } catch (error) {
      const status = statusOf(error);
      // 412 is the Hub's answer to a stale parentCommit; 409 a conflicting write in progress.
      if (status === 412 || status === 409) {
        throw new ConcurrentChangeError(
          `${this.location} branch ${this.branch} moved past ${parentCommit} while a change was prepared ` +
            `(the Hub answered ${status}: ${hubMessage(error)})`,
        );
      }
      throw this.failure(error, `committing "${change.message}" to`);
    }
    if (oid === undefined || !FULL_COMMIT.test(oid)) {
      throw new DatasetError(
        `committing to ${this.location}: ${this.hubUrl} answered without a commit id; check HF_ENDPOINT`,
      );
    }
    return oid;
  }

  private get repoId() {
    return { type: 'dataset' as const, name: this.repo };
  }

  /** The branch's head commit; undefined when the repo or the branch does not exist yet. */
  private branchHead(): Promise<string | undefined> {
    return this.commitOf(this.branch);
  }

  /** The commit a branch, tag or commit names; undefined when the repo or the name does not exist. */
  private async commitOf(revision: string): Promise<string | undefined> {
    let sha: string | undefined;
    try {
      const info = await datasetInfo({
        name: this.repo,
        revision,
        additionalFields: ['sha'],
        accessToken: this.readToken(),
        hubUrl: this.hubUrl,
        fetch: this.fetch,
      });
      sha = info.sha;
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw this.failure(error, `reading revision ${revision} of`);
    }
    if (typeof sha !== 'string' || !FULL_COMMIT.test(sha)) {
      throw new DatasetError(
        `reading the head of ${this.location}: ${this.hubUrl} answered without a commit id; check HF_ENDPOINT`,
      );
    }
    return sha;
  }

  /** A file at a revision; undefined when the revision has no such file. */
  private async download(revision: string, path: string): Promise<Buffer | undefined> {
    const access = { accessToken: this.readToken(), hubUrl: this.hubUrl, fetch: this.fetch };
    try {
      // xet off: the Hub then redirects xet-backed files to plain downloads, so no WASM client is needed.
      const file = await downloadFile({ repo: this.repoId, path, revision, xet: false, ...access });
      return file ? Buffer.from(await file.arrayBuffer()) : undefined;
    } catch (error) {
      // The size probe (`Range: bytes=0-0`) cannot be satisfied for an empty file, such as a shard whose
      // every example was deleted (416, or a 200 without Content-Range): confirm the size instead.
      if (statusOf(error) === 416 || error instanceof InvalidApiResponseFormatError) {
        const [info] = await pathsInfo({ repo: this.repoId, paths: [path], revision, ...access }).catch(
          (failure: unknown) => {
            throw this.failure(failure, `reading ${path} at ${revision} of`);
          },
        );
        if (info?.size === 0) return Buffer.alloc(0);
      }
      if (statusOf(error) === 404) {
        throw new DatasetError(
          `${this.location}@${revision}: cannot read ${path} (the Hub answered 404: ${hubMessage(error)}); ` +
            'check the revision, the repo name and HF_ENDPOINT',
        );
      }
      throw this.failure(error, `reading ${path} at ${revision} of`);
    }
  }

  /**
   * The commit the first snapshot goes on top of, creating the repo (private) and the branch when missing.
   * Refuses when another writer wrote a first snapshot since head() found none.
   */
  private async prepareFirstSnapshot(accessToken: string): Promise<string> {
    let head = await this.branchHead();
    if (head === undefined) {
      await this.createMissingRepo(accessToken);
      if (this.branch !== DEFAULT_BRANCH) await this.createMissingBranch(accessToken);
      head = await this.branchHead();
      if (head === undefined) {
        throw new DatasetError(`${this.location} has no branch ${this.branch} even after creating it`);
      }
    }
    if (await this.download(head, MANIFEST_PATH)) {
      throw new ConcurrentChangeError(
        `${this.location} branch ${this.branch} got a first snapshot from another writer meanwhile`,
      );
    }
    return head;
  }

  private async createMissingRepo(accessToken: string): Promise<void> {
    const access = { accessToken, hubUrl: this.hubUrl, fetch: this.fetch };
    try {
      if (await repoExists({ repo: this.repoId, ...access })) return;
      await createRepo({ repo: this.repoId, visibility: 'private', ...access });
    } catch (error) {
      if (statusOf(error) === 409) return; // created by another writer meanwhile
      throw this.failure(error, 'creating the dataset repository');
    }
  }

  private async createMissingBranch(accessToken: string): Promise<void> {
    try {
      await createBranch({
        repo: this.repoId,
        branch: this.branch,
        accessToken,
        hubUrl: this.hubUrl,
        fetch: this.fetch,
      });
    } catch (error) {
      if (statusOf(error) === 409) return; // created by another writer meanwhile
      throw this.failure(error, `creating branch ${this.branch} of`);
    }
  }

  private readToken(): string | undefined {
    if (this.token !== undefined) checkTokenShape(this.token);
    return this.token;
  }

  private writeToken(): string {
    if (this.token === undefined) {
      throw new DatasetError(
        `writing to ${this.location} needs a Hugging Face token with write access: set HF_TOKEN`,
      );
    }
    checkTokenShape(this.token);
    return this.token;
  }

  /** One line saying what failed, on which repo, and what to check; never the token. */
  private failure(error: unknown, action: string): DatasetError {
    if (error instanceof DatasetError) return error;
    return new DatasetError(
      describeHubFailure(error, {
        what: `${action} ${this.location}`,
        hubUrl: this.hubUrl,
        token: this.token,
        tokenRefused: ' and can access the repo',
        forbidden: 'check that HF_TOKEN has write access to the repo',
      }),
    );
  }
}

function checkTokenShape(token: string): void {
  // @huggingface/hub refuses other tokens with a TypeError; say it in the store's terms.
  if (!token.startsWith('hf_'))
    throw new DatasetError('HF_TOKEN is not a Hugging Face token (they start with hf_)');
}

function asBlob(content: Buffer): Blob {
  return new Blob([new Uint8Array(content.buffer, content.byteOffset, content.byteLength)]);
}
