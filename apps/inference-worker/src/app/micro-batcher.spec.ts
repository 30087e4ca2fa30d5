import { BatchStats, MicroBatcher } from './micro-batcher';

/** A runner that records each batch and scores a sequence by its length, so results can be traced back. */
function recordingRunner(delayMs = 0) {
  const batches: number[][][] = [];
  let release: (() => void) | undefined;
  const runner = async (sequences: number[][]) => {
    batches.push(sequences);
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    if (release === undefined && delayMs < 0) await new Promise<void>((resolve) => (release = resolve));
    return { scores: sequences.map((ids) => [ids.length, ids[0], 0]), computeMs: 1 };
  };
  return { runner, batches, releaseFirst: () => release?.() };
}

const seq = (length: number, first = 0) => [first, ...Array(length - 1).fill(7)];

describe('MicroBatcher', () => {
  it('returns each text its own scores, in order', async () => {
    const { runner } = recordingRunner();
    const batcher = new MicroBatcher(runner, {
      maxTokens: 512,
      maxTexts: 8,
      maxPaddingRatio: 1,
      maxWaitMs: 1,
    });
    const scores = await batcher.submit([seq(5, 1), seq(3, 2), seq(9, 3)]);
    expect(scores).toEqual([
      [5, 1, 0],
      [3, 2, 0],
      [9, 3, 0],
    ]);
  });

  it('gathers texts from concurrent submissions into one batch', async () => {
    const { runner, batches } = recordingRunner();
    const stats: BatchStats[] = [];
    const batcher = new MicroBatcher(
      runner,
      { maxTokens: 512, maxTexts: 64, maxPaddingRatio: 1, maxWaitMs: 20 },
      (s) => stats.push(s),
    );
    await Promise.all([batcher.submit([seq(4)]), batcher.submit([seq(4), seq(6)]), batcher.submit([seq(6)])]);
    expect(batches).toHaveLength(1);
    expect(batches[0]).toHaveLength(4);
    expect(stats).toEqual([{ texts: 4, realTokens: 20, paddedTokens: 24, computeMs: 1 }]);
  });

  it('keeps padded tokens and texts per batch within the budget', async () => {
    const { runner, batches } = recordingRunner();
    const batcher = new MicroBatcher(runner, {
      maxTokens: 600,
      maxTexts: 4,
      maxPaddingRatio: 1,
      maxWaitMs: 5,
    });
    const lengths = [10, 200, 12, 11, 190, 14, 13, 15, 300, 9];
    await batcher.submit(lengths.map((length) => seq(length)));
    for (const batch of batches) {
      const longest = Math.max(...batch.map((ids) => ids.length));
      expect(batch.length).toBeLessThanOrEqual(4);
      expect(batch.length * longest).toBeLessThanOrEqual(600);
    }
    expect(batches.flat()).toHaveLength(lengths.length);
    // Similar lengths travel together: the short texts never share a batch with the 300-token one.
    const withLongest = batches.find((batch) => batch.some((ids) => ids.length === 300));
    expect(withLongest?.every((ids) => ids.length >= 190)).toBe(true);
  });

  it('keeps texts of very different lengths apart when padding would exceed the limit', async () => {
    const { runner, batches } = recordingRunner();
    const stats: BatchStats[] = [];
    const batcher = new MicroBatcher(
      runner,
      { maxTokens: 4096, maxTexts: 64, maxPaddingRatio: 0.1, maxWaitMs: 0 },
      (s) => stats.push(s),
    );
    await batcher.submit([seq(40), seq(10), seq(42), seq(10), seq(11), seq(41)]);
    await batcher.idle();
    expect(batches.map((batch) => batch.map((ids) => ids.length).sort((a, b) => a - b))).toEqual([
      [40, 41, 42],
      [10, 10, 11],
    ]);
    for (const batch of stats) expect(1 - batch.realTokens / batch.paddedTokens).toBeLessThanOrEqual(0.1);
  });

  it('serves the oldest waiting text next, so long texts cannot starve', async () => {
    const { runner, batches, releaseFirst } = recordingRunner(-1);
    const batcher = new MicroBatcher(runner, {
      maxTokens: 512,
      maxTexts: 2,
      maxPaddingRatio: 1,
      maxWaitMs: 0,
    });
    const first = batcher.submit([seq(3, 100)]);
    const long = batcher.submit([seq(400, 200)]);
    const shorts = batcher.submit([seq(3, 1), seq(3, 2), seq(3, 3), seq(3, 4)]);
    releaseFirst();
    await Promise.all([first, long, shorts]);
    expect(batches[0].map((ids) => ids[0])).toEqual([100]);
    expect(batches[1].map((ids) => ids[0])).toEqual([200]);
  });

  it('waits at most maxWaitMs for company when idle', async () => {
    const { runner, batches } = recordingRunner();
    const batcher = new MicroBatcher(runner, {
      maxTokens: 4096,
      maxTexts: 64,
      maxPaddingRatio: 1,
      maxWaitMs: 30,
    });
    const started = Date.now();
    await batcher.submit([seq(5)]);
    expect(batches).toHaveLength(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });

  it('fails every text of a batch whose run fails, and keeps serving', async () => {
    let calls = 0;
    const batcher = new MicroBatcher(
      async (sequences) => {
        calls++;
        if (calls === 1) throw new Error('thread died');
        return { scores: sequences.map(() => [1, 0, 0]), computeMs: 0 };
      },
      { maxTokens: 512, maxTexts: 8, maxPaddingRatio: 1, maxWaitMs: 0 },
    );
    await expect(batcher.submit([seq(3), seq(4)])).rejects.toThrow('thread died');
    await expect(batcher.submit([seq(3)])).resolves.toEqual([[1, 0, 0]]);
    await batcher.idle();
    expect(batcher.waiting).toBe(0);
  });

  it('rejects a text longer than the whole batch budget', async () => {
    const { runner } = recordingRunner();
    const batcher = new MicroBatcher(runner, { maxTokens: 8, maxTexts: 8, maxPaddingRatio: 1, maxWaitMs: 0 });
    await expect(batcher.submit([seq(9)])).rejects.toThrow(
      'a text of 9 tokens exceeds the batch budget of 8',
    );
  });
});
