import { checkDockerignore, isIgnored } from './dockerignore';
import { mutate, read } from './fixtures';

describe('.dockerignore', () => {
  const text = read('dockerignore');

  it('keeps dependencies, build output, models and secrets out, and what the build needs in', () => {
    expect(checkDockerignore(text)).toEqual([]);
  });

  it('catches models sent to the daemon and a pattern that drops the manifests', () => {
    expect(checkDockerignore(mutate(text, /^models$/m, ''))).toEqual([
      '.dockerignore lets models into the build context',
    ]);
    expect(checkDockerignore(`${text}*.json\n`)).toEqual([
      '.dockerignore drops package.json, which the build needs',
      '.dockerignore drops package-lock.json, which the build needs',
      '.dockerignore drops nx.json, which the build needs',
      '.dockerignore drops tsconfig.base.json, which the build needs',
    ]);
  });

  it("follows Docker's matching: parents, **, and the last match winning", () => {
    expect(isIgnored('dist', 'dist/apps/gateway/main.js')).toBe(true);
    expect(isIgnored('**/node_modules', 'libs/a/node_modules/x')).toBe(true);
    expect(isIgnored('.env*\n!.env.example', '.env.example')).toBe(false);
    expect(isIgnored('.env*\n!.env.example', '.env.local')).toBe(true);
  });
});
