/** Paths the build context must leave out: bulky, generated, machine-specific or secret. */
export const MUST_IGNORE = [
  'node_modules',
  'apps/gateway/node_modules',
  'dist',
  'models',
  'tmp',
  '.nx',
  'coverage',
  'bench-results',
  '.git',
  '.env',
];

/** Paths the image builds need (the Dockerfiles copy the manifests, then build the workspace with Nx). */
export const MUST_KEEP = [
  'package.json',
  'package-lock.json',
  '.npmrc',
  'nx.json',
  'tsconfig.base.json',
  'apps/gateway/src/main.ts',
  'apps/gateway/webpack.config.js',
  'apps/inference-worker/src/main.ts',
  'libs/model-runtime/src/inference-thread.js',
  'libs/config/src/index.ts',
  // The all-in-one image: its project (nx build all-in-one), the CLI it bundles, the files it copies.
  'apps/all-in-one/project.json',
  'apps/all-in-one/entrypoint.sh',
  'apps/all-in-one/supervisord.conf',
  'tools/model-pull/src/cli.ts',
];

interface Rule {
  negate: boolean;
  pattern: RegExp;
}

function toRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i];
    if (char === '*' && glob[i + 1] === '*') {
      // `**/` matches any number of directories, including none.
      out += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += glob[i + 2] === '/' ? 2 : 1;
    } else if (char === '*') out += '[^/]*';
    else if (char === '?') out += '[^/]';
    else out += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

function rules(text: string): Rule[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!');
      const glob = (negate ? line.slice(1) : line).replace(/^\/+|\/+$/g, '').replace(/^\.\//, '');
      return { negate, pattern: toRegExp(glob) };
    });
}

/** Whether .dockerignore leaves the path out of the build context (Docker's rules: the last match wins). */
export function isIgnored(text: string, path: string): boolean {
  const parts = path.split('/');
  // A path is out when it or one of its parent directories matches.
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const rule of rules(text)) {
    if (candidates.some((candidate) => rule.pattern.test(candidate))) ignored = !rule.negate;
  }
  return ignored;
}

export function checkDockerignore(text: string): string[] {
  return [
    ...MUST_IGNORE.filter((path) => !isIgnored(text, path)).map(
      (path) => `.dockerignore lets ${path} into the build context`,
    ),
    ...MUST_KEEP.filter((path) => isIgnored(text, path)).map(
      (path) => `.dockerignore drops ${path}, which the build needs`,
    ),
  ];
}
