import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockDirectory } from './materialize';

describe('the pull lock', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'pull-lock-'));
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('logs a lock another process took over instead of throwing from its renewal timer', async () => {
    const file = join(root, 'owner', 'name', 'commit.lock');
    const lines: string[] = [];
    // Stale after 2 s: proper-lockfile renews it every second and finds it gone.
    const release = await lockDirectory(file, (line) => lines.push(line), 2_000);
    expect(existsSync(file)).toBe(true);
    await rm(file, { recursive: true });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(lines).toEqual([
      expect.stringMatching(/^the pull lock .*commit\.lock was taken over \(.+\); this pull goes on$/),
    ]);
    await expect(release()).resolves.toBeUndefined();
    // Taken again at once, and released for real this time.
    const again = await lockDirectory(file, (line) => lines.push(line));
    await again();
    expect(existsSync(file)).toBe(false);
  });
});
