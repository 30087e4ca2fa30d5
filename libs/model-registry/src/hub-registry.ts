import { createHash } from 'node:crypto';
import { downloadFile, listCommits, pathsInfo, type PathInfo } from '@huggingface/hub';
import {
  describeHubAnswer,
  describeHubFailure,
  statusOf,
  type HubFailureContext,
} from '@reputation-monitor/hub-errors';
import type { ModelVersionRef } from '@reputation-monitor/contracts';
import { ModelRegistryError } from './hub-upload';
import { materializeVersion, type HubAccess, type MaterializeOptions } from './materialize';
import { hubModelLocation } from './model-location';
import {
  CONFIG_FILE,
  fp32Version,
  GATE_REPORT_FILE,
  newestFirst,
  parseGateReport,
  provenanceCreatedAt,
  provenanceOf,
  type ModelVersionInfo,
} from './model-version';
import type { ModelRegistry } from './registry';

const FULL_COMMIT = /^[0-9a-f]{40}$/;
const COMMIT_PREFIX = /^[0-9a-f]{4,40}$/i;
const DEFAULT_BRANCH = 'main';
// What model:pull needs (tools/model-pull): a Hub version is one it can materialize.
const GRAPH = 'onnx/model.onnx';
const DESCRIBED_PATHS = [GRAPH, CONFIG_FILE, GATE_REPORT_FILE];
// Files below the Hub's LFS threshold are plain git blobs, without a sha256 in the listing.
const MAX_HASHED_DOWNLOAD_BYTES = 10 * 1024 * 1024;
const REQUEST_TIMEOUT_MS = 30_000;
const PARALLEL_VERSIONS = 4;

export interface HubModelRegistryOptions extends HubAccess {
  /** `<owner>/<name>` of the model repository. */
  repo: string;
  /** For tests and proxies; the global fetch otherwise. */
  fetch?: typeof fetch;
}

/**
 * A Hub model repository as the registry: its versions are the heads of its branches (main, and the
 * `candidate-<version>` branches model:publish writes), and any older commit by id. Metadata comes through
 * @huggingface/hub (the branch list through the refs API) without downloading a graph: the version
 * is the graph's LFS sha256 from the listing.
 */
export class HubModelRegistry implements ModelRegistry {
  readonly location: string;
  private readonly hubUrl: string;
  private readonly repoId;

  constructor(private readonly options: HubModelRegistryOptions) {
    let endpoint: URL;
    try {
      endpoint = new URL(options.endpoint);
    } catch {
      throw new ModelRegistryError(`HF_ENDPOINT is not a URL: "${options.endpoint}"`);
    }
    if (endpoint.protocol !== 'https:' && endpoint.protocol !== 'http:') {
      throw new ModelRegistryError(`HF_ENDPOINT must be an http(s) URL, got "${options.endpoint}"`);
    }
    if (options.token !== undefined && options.token !== '' && !options.token.startsWith('hf_')) {
      // @huggingface/hub refuses other tokens with a TypeError; say it in the registry's terms.
      throw new ModelRegistryError('HF_TOKEN is not a Hugging Face token (they start with hf_)');
    }
    this.hubUrl = endpoint.href.replace(/\/+$/, '');
    this.location = hubModelLocation(options.repo);
    this.repoId = { type: 'model' as const, name: options.repo };
  }

  async list(): Promise<ModelVersionInfo[]> {
    const heads = await this.branchHeads();
    const versions = await mapLimit([...branchByCommit(heads)], PARALLEL_VERSIONS, ([commit, branch]) =>
      this.describe(commit, branch),
    );
    return versions.filter((info): info is ModelVersionInfo => info !== undefined).sort(newestFirst);
  }

  /** A branch name, or a commit id in full or as a unique prefix (of at least 4 hex digits). */
  async get(idOrBranch: string): Promise<ModelVersionInfo | undefined> {
    const text = idOrBranch.trim();
    if (text === '') return undefined;
    const heads = await this.branchHeads();
    const head = heads.get(text.replace(/^refs\/heads\//, ''));
    if (head !== undefined) return this.describe(head, text.replace(/^refs\/heads\//, ''));
    if (!COMMIT_PREFIX.test(text)) return undefined;
    const prefix = text.toLowerCase();
    const branches = branchByCommit(heads);
    const atHeads = [...branches.keys()].filter((commit) => commit.startsWith(prefix));
    if (atHeads.length === 1) return this.describe(atHeads[0], branches.get(atHeads[0]));
    if (atHeads.length > 1) throw this.ambiguous(prefix, atHeads);
    // Not a head: an older commit (a production before a branch moved on), found by id.
    if (FULL_COMMIT.test(prefix)) return this.describe(prefix, undefined);
    const matches = new Set<string>();
    for (const branch of heads.keys()) {
      for (const commit of await this.history(branch)) if (commit.startsWith(prefix)) matches.add(commit);
    }
    if (matches.size > 1) throw this.ambiguous(prefix, [...matches]);
    const [match] = matches;
    return match === undefined ? undefined : this.describe(match, undefined);
  }

  materialize(ref: ModelVersionRef, options: MaterializeOptions): Promise<string> {
    return materializeVersion(ref, options, { endpoint: this.hubUrl, token: this.token });
  }

  private get token(): string | undefined {
    return this.options.token || undefined;
  }

  private get access() {
    return { accessToken: this.token, hubUrl: this.hubUrl, fetch: this.options.fetch };
  }

  /** Branch name -> head commit, through the Hub's refs API (which @huggingface/hub does not wrap). */
  private async branchHeads(): Promise<Map<string, string>> {
    const action = 'listing the branches of';
    const url = `${this.hubUrl}/api/models/${this.options.repo}/refs`;
    let response: Response;
    try {
      response = await (this.options.fetch ?? fetch)(url, {
        headers: {
          accept: 'application/json',
          ...(this.token && { authorization: `Bearer ${this.token}` }),
        },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      throw this.failure(error, action);
    }
    const text = await response.text().catch(() => '');
    if (!response.ok) {
      let message = response.headers.get('x-error-message') ?? '';
      try {
        message = (JSON.parse(text) as { error?: string }).error ?? message;
      } catch {
        // Not JSON: the header, or the status alone.
      }
      throw new ModelRegistryError(
        describeHubAnswer(response.status, message || response.statusText, this.context(action)),
      );
    }
    let body: { branches?: unknown } | null;
    try {
      body = JSON.parse(text) as { branches?: unknown } | null;
    } catch {
      body = null;
    }
    const branches = body?.branches;
    const valid =
      Array.isArray(branches) &&
      branches.every(
        (branch: { name?: unknown; targetCommit?: unknown } | null) =>
          typeof branch?.name === 'string' &&
          typeof branch.targetCommit === 'string' &&
          FULL_COMMIT.test(branch.targetCommit),
      );
    if (!valid) {
      throw new ModelRegistryError(
        `${action} ${this.location} failed: ${this.hubUrl} does not answer like a Hub (no branch list); check HF_ENDPOINT`,
      );
    }
    return new Map(
      (branches as Array<{ name: string; targetCommit: string }>).map((branch) => [
        branch.name,
        branch.targetCommit,
      ]),
    );
  }

  /** The version at a commit, or undefined when the commit does not exist or holds no model. */
  private async describe(commit: string, branch: string | undefined): Promise<ModelVersionInfo | undefined> {
    let infos: PathInfo[];
    try {
      infos = await pathsInfo({
        repo: this.repoId,
        paths: DESCRIBED_PATHS,
        revision: commit,
        ...this.access,
      });
    } catch (error) {
      // The repo answered the branch list, so a 404 here is about the commit.
      if (statusOf(error) === 404) return undefined;
      throw this.failure(error, `reading commit ${commit} of`);
    }
    const byPath = new Map(infos.filter((info) => info.type === 'file').map((info) => [info.path, info]));
    const graph = byPath.get(GRAPH);
    if (graph === undefined || !byPath.has(CONFIG_FILE)) return undefined;
    const config = await this.download(commit, CONFIG_FILE);
    const provenance = provenanceOf(config?.toString('utf8'));
    const report = byPath.has(GATE_REPORT_FILE) ? await this.download(commit, GATE_REPORT_FILE) : undefined;
    return {
      id: commit,
      location: hubModelLocation(this.options.repo, commit),
      source: 'hub',
      ...(branch !== undefined && { branch }),
      createdAt: provenanceCreatedAt(provenance) ?? (await this.commitDate(commit)),
      modelVersion: await this.graphVersion(commit, graph),
      provenance,
      gate: report === undefined ? null : parseGateReport(report.toString('utf8')),
    };
  }

  private async graphVersion(commit: string, graph: PathInfo): Promise<string | null> {
    if (graph.lfs?.oid && /^[0-9a-f]{64}$/.test(graph.lfs.oid)) return fp32Version(graph.lfs.oid);
    // A small graph kept as a plain git file: its listing has no sha256, so it is hashed here.
    if (graph.size > MAX_HASHED_DOWNLOAD_BYTES) return null;
    const content = await this.download(commit, GRAPH);
    return content === undefined ? null : fp32Version(createHash('sha256').update(content).digest('hex'));
  }

  private async commitDate(commit: string): Promise<string | null> {
    try {
      for await (const entry of listCommits({
        repo: this.repoId,
        revision: commit,
        batchSize: 1,
        ...this.access,
      })) {
        return entry.date.toISOString();
      }
      return null;
    } catch (error) {
      throw this.failure(error, `reading commit ${commit} of`);
    }
  }

  /** Every commit id on a branch, newest first. */
  private async history(branch: string): Promise<string[]> {
    const commits: string[] = [];
    try {
      for await (const entry of listCommits({
        repo: this.repoId,
        revision: branch,
        batchSize: 100,
        ...this.access,
      })) {
        commits.push(entry.oid);
      }
    } catch (error) {
      throw this.failure(error, `listing the commits of branch ${branch} of`);
    }
    return commits;
  }

  private async download(commit: string, path: string): Promise<Buffer | undefined> {
    try {
      // xet off: the Hub then redirects xet-backed files to plain downloads, so no WASM client is needed.
      const file = await downloadFile({
        repo: this.repoId,
        path,
        revision: commit,
        xet: false,
        ...this.access,
      });
      return file ? Buffer.from(await file.arrayBuffer()) : undefined;
    } catch (error) {
      throw this.failure(error, `reading ${path} at ${commit} of`);
    }
  }

  private ambiguous(prefix: string, commits: string[]): ModelRegistryError {
    return new ModelRegistryError(
      `${prefix} names more than one commit of ${this.location} (${commits.sort().join(', ')}); give more of the commit id`,
    );
  }

  /** One line saying what failed, on which repo, and what to check; never the token. */
  private failure(error: unknown, action: string): ModelRegistryError {
    if (error instanceof ModelRegistryError) return error;
    return new ModelRegistryError(describeHubFailure(error, this.context(action)));
  }

  private context(action: string): HubFailureContext {
    return {
      what: `${action} ${this.location}`,
      hubUrl: this.hubUrl,
      token: this.token,
      tokenRefused: ' and can read the repo',
      forbidden: 'check that HF_TOKEN can read the repo (for a gated repo, accept its terms first)',
    };
  }
}

/** Commit -> the branch to name it by: main first, then the others in order. */
function branchByCommit(heads: Map<string, string>): Map<string, string> {
  const names = [...heads.keys()].sort((a, b) =>
    a === DEFAULT_BRANCH ? -1 : b === DEFAULT_BRANCH ? 1 : a < b ? -1 : a > b ? 1 : 0,
  );
  const byCommit = new Map<string, string>();
  for (const name of names) {
    const commit = heads.get(name) as string;
    if (!byCommit.has(commit)) byCommit.set(commit, name);
  }
  return byCommit;
}

async function mapLimit<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
