import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

// The published package (dist/libs/producer-client, `nx build producer-client`) reaches contracts and
// redis-connection as package dependencies at exactly the version released with it, never through the workspace's
// path alias.
const root = join(__dirname, '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const contracts = JSON.parse(readFileSync(join(root, '../contracts/package.json'), 'utf8'));
const redisConnection = JSON.parse(readFileSync(join(root, '../redis-connection/package.json'), 'utf8'));

function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

const imported = readdirSync(join(root, 'src'))
  .filter((file) => file.endsWith('.ts') && !/\.(spec|int-spec)\.ts$/.test(file))
  .flatMap((file) =>
    [...readFileSync(join(root, 'src', file), 'utf8').matchAll(/\bfrom\s+'([^']+)'/g)].map(
      (match) => match[1],
    ),
  );

describe('the producer-client package', () => {
  it('is named and typed for consumers', () => {
    expect(manifest).toMatchObject({
      name: '@reputation-monitor/producer-client',
      main: './src/index.js',
      types: './src/index.d.ts',
      exports: { '.': { types: './src/index.d.ts', default: './src/index.js' } },
    });
    expect(manifest.private).toBeUndefined();
  });

  it('declares exactly the packages its code imports', () => {
    const external = new Set(
      imported.filter((spec) => !spec.startsWith('.') && !spec.startsWith('node:')).map(packageOf),
    );
    expect([...external].sort()).toEqual(Object.keys(manifest.dependencies).sort());
  });

  it('depends on contracts and redis-connection at the exact version released with it (a fixed release group), and on no other lib', () => {
    expect(manifest.dependencies['@reputation-monitor/contracts']).toBe(contracts.version);
    expect(manifest.dependencies['@reputation-monitor/redis-connection']).toBe(redisConnection.version);
    expect(manifest.version).toBe(contracts.version);
    expect(redisConnection.version).toBe(contracts.version);
    const workspaceLibs = imported.filter((spec) => spec.startsWith('@reputation-monitor/'));
    expect(new Set(workspaceLibs)).toEqual(
      new Set(['@reputation-monitor/contracts', '@reputation-monitor/redis-connection']),
    );
  });
});
