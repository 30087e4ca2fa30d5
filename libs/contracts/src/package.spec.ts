import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

// The published package (built into dist/libs/contracts by `nx build contracts`) must stand alone: everything a
// producer needs, nothing that pulls in the rest of the workspace.
const root = join(__dirname, '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

function importsOf(dir: string): string[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.ts') && !/\.(spec|int-spec)\.ts$/.test(file))
    .flatMap((file) =>
      [...readFileSync(join(dir, file), 'utf8').matchAll(/\bfrom\s+'([^']+)'|\brequire\('([^']+)'\)/g)].map(
        (match) => match[1] ?? match[2],
      ),
    );
}

describe('the contracts package', () => {
  it('is named and typed for consumers, with the schemas as a subpath', () => {
    expect(manifest).toMatchObject({
      name: '@reputation-monitor/contracts',
      version: expect.stringMatching(/^\d+\.\d+\.\d+(-[\w.]+)?$/),
      main: './src/index.js',
      types: './src/index.d.ts',
      exports: {
        '.': { types: './src/index.d.ts', default: './src/index.js' },
        './schema/*.json': './schema/*.json',
      },
    });
    expect(manifest.private).toBeUndefined();
  });

  it('has no dependencies: its code imports only itself and Node builtins', () => {
    expect(manifest.dependencies ?? {}).toEqual({});
    const external = importsOf(join(root, 'src')).filter(
      (spec) => !spec.startsWith('./') && !spec.startsWith('node:'),
    );
    expect(external).toEqual([]);
  });
});
