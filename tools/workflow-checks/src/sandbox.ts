import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { WORKSPACE_ROOT } from './github-files';

/** New content of a file, a function of its old content ('' when new), or null to delete it. */
export type Change = string | ((current: string) => string) | null;

/**
 * The environment for git and Nx in a sandbox: the caller's, without its NX_* and GIT_* variables (a parent
 * Nx task or git hook would point them at the real workspace), with a commit identity, no Nx daemon or
 * cloud, and Nx's cache and workspace data in the sandbox instead of the clone's (or the workspace's) .nx.
 */
export function sandboxEnv(root: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('NX_') && !name.startsWith('GIT_')) env[name] = value;
  }
  return {
    ...env,
    NX_DAEMON: 'false',
    NX_NO_CLOUD: 'true',
    NX_CACHE_DIRECTORY: join(root, 'nx-cache'),
    NX_WORKSPACE_DATA_DIRECTORY: join(root, 'nx-workspace-data'),
    // Nx's plugins (project.json, package.json, js) in its own process instead of three workers: the same
    // project graph, in a third of the start-up time.
    NX_ISOLATE_PLUGINS: 'false',
    GIT_AUTHOR_NAME: 'workflow-checks',
    GIT_AUTHOR_EMAIL: 'workflow-checks@example.invalid',
    GIT_COMMITTER_NAME: 'workflow-checks',
    GIT_COMMITTER_EMAIL: 'workflow-checks@example.invalid',
  };
}

/**
 * A throwaway git clone of the workspace's committed state (uncommitted files are not in it) in a temporary
 * folder, sharing the workspace's node_modules through a symlink. Commits made here touch nothing outside.
 */
export class WorkspaceSandbox {
  private constructor(
    /** The temporary folder: repo/ (the clone), nx-cache/, nx-workspace-data/. */
    readonly root: string,
    readonly repoDir: string,
    readonly env: NodeJS.ProcessEnv,
  ) {}

  static clone(source = WORKSPACE_ROOT): WorkspaceSandbox {
    const root = mkdtempSync(join(tmpdir(), 'workflow-checks-'));
    try {
      const repoDir = join(root, 'repo');
      const env = sandboxEnv(root);
      execFileSync('git', ['-c', 'advice.detachedHead=false', 'clone', '--quiet', source, repoDir], {
        env,
        stdio: 'pipe',
      });
      symlinkSync(join(source, 'node_modules'), join(repoDir, 'node_modules'), 'dir');
      return new WorkspaceSandbox(root, repoDir, env);
    } catch (error) {
      rmSync(root, { recursive: true, force: true });
      throw error;
    }
  }

  git(...args: string[]): string {
    return execFileSync('git', ['-c', 'core.hooksPath=/dev/null', '-c', 'commit.gpgsign=false', ...args], {
      cwd: this.repoDir,
      env: this.env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  }

  /** Applies the changes (paths from the repository root), commits them and returns the new commit's sha. */
  commit(message: string, changes: Record<string, Change>): string {
    for (const [path, change] of Object.entries(changes)) {
      const file = join(this.repoDir, path);
      if (change === null) {
        rmSync(file, { force: true });
        this.git('rm', '--cached', '--quiet', '--ignore-unmatch', '--', path);
        continue;
      }
      const current = existsSync(file) ? readFileSync(file, 'utf8') : '';
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, typeof change === 'function' ? change(current) : change);
      this.git('add', '--', path);
    }
    this.git('commit', '--quiet', '--allow-empty', '-m', message);
    return this.git('rev-parse', 'HEAD');
  }

  /** Deletes the temporary folder (the node_modules symlink goes, the workspace's node_modules stays). */
  dispose(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
