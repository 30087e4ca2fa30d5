import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockDirectory } from './materialize';
import { PullCancelledError } from './pull';

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

  it("stops waiting for another process's pull when its own is called off", async () => {
    const file = join(root, 'owner', 'name', 'commit.lock');
    const lines: string[] = [];
    const held = await lockDirectory(file, () => undefined);
    const controller = new AbortController();

    const waiting = lockDirectory(file, (line) => lines.push(line), undefined, controller.signal);
    await new Promise((resolve) => setTimeout(resolve, 300));
    controller.abort(new Error('a newer assignment'));

    await expect(waiting).rejects.toThrow(PullCancelledError);
    await expect(waiting).rejects.toThrow(/called off while waiting for .*commit: a newer assignment$/);
    expect(lines).toEqual([
      expect.stringMatching(/^another process is pulling into .*commit; waiting for it$/),
    ]);
    await held();
    expect(existsSync(file)).toBe(false);
  });
});
