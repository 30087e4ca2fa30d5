import { existsSync } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { lock } from 'proper-lockfile';
import { dirname, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import type { ModelVersionRef } from '@reputation-monitor/contracts';
import { ModelRegistryError } from './hub-upload';
import { parseModelLocation } from './model-location';
import { CONFIG_FILE, GRAPHS_BY_VARIANT } from './model-version';
import { digestOf, ModelPullError, pullModel, throwIfCancelled, type PullModelResult } from './pull';

const FULL_COMMIT = /^[0-9a-f]{40}$/;

export interface MaterializeOptions {
  cacheDir: string;
  variant: 'fp32' | 'int8';
  log?: (line: string) => void;
  /**
   * Calls a Hub pull off (PullCancelledError), also while it waits for another process's pull of the same
   * version; what was downloaded stays for the next pull to resume.
   */
  signal?: AbortSignal;
}

export interface HubAccess {
  endpoint: string;
  token?: string;
}

/**
 * A local model directory holding the version a ref names. A directory is checked and returned as it is;
 * a Hub version (`hf://models/<owner>/<name>@<commit>`) is pulled once into
 * `<cacheDir>/<owner>/<name>/<commit>` (each file checked against the Hub's size and sha256 or git blob id)
 * and reused after, its files checked against the same digests again, and pulled afresh if one differs.
 */
export async function materializeVersion(
  ref: ModelVersionRef,
  options: MaterializeOptions,
  hub: HubAccess,
): Promise<string> {
  const where = parseModelLocation(ref.location);
  if (where.dir !== undefined) return checkedDirectory(ref, where.dir, options.variant);
  const repo = where.repo as string;
  const commit = where.revision;
  if (commit === undefined || !FULL_COMMIT.test(commit)) {
    throw new ModelRegistryError(
      `version ${ref.id} (${ref.location}) does not pin a commit: a version's location ends in @<40 hex commit id>`,
    );
  }
  const log = options.log ?? (() => undefined);
  const [owner, name] = repo.split('/');
  const outDir = join(resolve(options.cacheDir), owner, name, commit);
  const pull = async (): Promise<PullModelResult> => {
    try {
      return await pullModel({
        outDir,
        repo,
        revision: commit,
        variant: options.variant,
        endpoint: hub.endpoint,
        token: hub.token,
        output: new LineWriter(log),
        signal: options.signal,
      });
    } catch (error) {
      if (error instanceof ModelPullError) {
        throw new ModelRegistryError(
          `cannot materialize version ${ref.id} (${ref.location}): ${error.message}`,
        );
      }
      throw error;
    }
  };
  // Worker replicas share the cache volume and hear of a promotion at the same moment: one pulls, the others
  // wait for its lock and then find the version in place.
  const release = await lockDirectory(`${outDir}.lock`, log, STALE_PULL_LOCK_MS, options.signal);
  try {
    return await pullOnce(outDir, ref, pull, log);
  } finally {
    await release();
  }
}

async function pullOnce(
  outDir: string,
  ref: ModelVersionRef,
  pull: () => Promise<PullModelResult>,
  log: (line: string) => void,
): Promise<string> {
  const pulled = await pull();
  if (!pulled.skipped) return outDir;
  // Reused: the cache must still hold exactly what was verified when it was pulled.
  for (const file of pulled.files) {
    if ((await digestOf(join(outDir, file.path), file)) === file.digest) continue;
    log(`${join(outDir, file.path)} no longer matches its ${file.algorithm}; pulling ${ref.id} again`);
    await rm(outDir, { recursive: true, force: true });
    await pull();
    break;
  }
  return outDir;
}

async function checkedDirectory(
  ref: ModelVersionRef,
  dir: string,
  variant: 'fp32' | 'int8',
): Promise<string> {
  const isDirectory = await stat(dir).then(
    (stats) => stats.isDirectory(),
    () => false,
  );
  if (!isDirectory) {
    throw new ModelRegistryError(
      `version ${ref.id}: ${dir} is not a directory (is the registry mounted here?)`,
    );
  }
  const graphs = GRAPHS_BY_VARIANT[variant];
  const missing = [
    ...(existsSync(join(dir, CONFIG_FILE)) ? [] : [CONFIG_FILE]),
    ...(graphs.some((graph) => existsSync(join(dir, graph))) ? [] : [graphs.join(' or ')]),
  ];
  if (missing.length > 0) {
    throw new ModelRegistryError(
      `version ${ref.id}: ${dir} has no ${missing.join(', ')} (needed for the ${variant} variant)`,
    );
  }
  return dir;
}

/** A stream that hands each complete line written to it to `log`. */
class LineWriter extends Writable {
  private pending = '';

  constructor(private readonly log: (line: string) => void) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    const lines = (this.pending + chunk.toString()).split(/\r?\n|\r/);
    this.pending = lines.pop() ?? '';
    for (const line of lines) if (line !== '') this.log(line);
    done();
  }

  override _final(done: () => void): void {
    if (this.pending !== '') this.log(this.pending);
    this.pending = '';
    done();
  }
}

/** A pull whose holder stopped renewing its lock for this long died; the lock is broken. */
const STALE_PULL_LOCK_MS = 60_000;

/**
 * Waits as long as another process pulls the same version (proper-lockfile renews a held lock). A lock found broken
 * while held (another process judged it stale: a slow shared volume, clock skew) is logged and the pull goes on: it
 * stages, verifies and renames into place. proper-lockfile's default there throws from a timer, ending the process.
 */
export async function lockDirectory(
  file: string,
  log: (line: string) => void,
  staleMs = STALE_PULL_LOCK_MS,
  signal?: AbortSignal,
): Promise<() => Promise<void>> {
  await mkdir(dirname(file), { recursive: true });
  const target = file.replace(/\.lock$/, '');
  let lost = false;
  const onCompromised = (error: Error) => {
    lost = true;
    log(`the pull lock ${file} was taken over (${error.message}); this pull goes on`);
  };
  let announced = false;
  for (;;) {
    throwIfCancelled(signal, `while waiting for ${target}`);
    try {
      const release = await lock(target, {
        lockfilePath: file,
        realpath: false,
        stale: staleMs,
        onCompromised,
      });
      // A lost lock is no longer ours to release.
      return () => (lost ? Promise.resolve() : release());
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
      if (!announced) log(`another process is pulling into ${target}; waiting for it`);
      announced = true;
      await new Promise((done) => setTimeout(done, 200));
    }
  }
}
