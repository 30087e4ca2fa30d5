import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

// Published with contracts and producer-client (one version for the three, nx.json's release group): the producer
// client depends on it, so it must stand alone, with ioredis as its only dependency.
const root = join(__dirname, '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const contracts = JSON.parse(readFileSync(join(root, '../contracts/package.json'), 'utf8'));

const imported = readdirSync(join(root, 'src'))
  .filter((file) => file.endsWith('.ts') && !/\.(spec|int-spec)\.ts$/.test(file))
  .flatMap((file) =>
    [...readFileSync(join(root, 'src', file), 'utf8').matchAll(/\bfrom\s+'([^']+)'/g)].map(
      (match) => match[1],
    ),
  );

describe('the redis-connection package', () => {
  it('is named and typed for consumers, versioned with the other packages', () => {
    expect(manifest).toMatchObject({
      name: '@reputation-monitor/redis-connection',
      version: contracts.version,
      main: './src/index.js',
      types: './src/index.d.ts',
      exports: { '.': { types: './src/index.d.ts', default: './src/index.js' } },
    });
    expect(manifest.private).toBeUndefined();
  });

  it('declares exactly the packages its code imports: ioredis, no workspace lib', () => {
    const external = new Set(imported.filter((spec) => !spec.startsWith('.') && !spec.startsWith('node:')));
    expect([...external]).toEqual(['ioredis']);
    expect(Object.keys(manifest.dependencies)).toEqual(['ioredis']);
  });
});
