import { BatchStats, InferenceLanes, MicroBatcher } from './micro-batcher';
import { LinearRunCost } from '@reputation-monitor/model-runtime';

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
    expect(stats).toEqual([
      expect.objectContaining({ texts: 4, realTokens: 20, paddedTokens: 24, computeMs: 1 }),
    ]);
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

  it('packs what waited during a run by the cost model, and reports the model with each batch', async () => {
    const { runner, batches, releaseFirst } = recordingRunner(-1);
    const stats: BatchStats[] = [];
    const batcher = new MicroBatcher(
      runner,
      { maxTokens: 4096, maxTexts: 64, maxPaddingRatio: 1, maxWaitMs: 0 },
      (s) => stats.push(s),
      undefined,
      // A run costs as much as 8 padded tokens.
      new LinearRunCost(8, 1),
    );
    const first = batcher.submit([seq(5, 100)]);
    // These arrive while the first run computes: one job each, short and long interleaved.
    const jobs = [10, 30, 10, 30, 10, 30].map((length, index) => batcher.submit([seq(length, index)]));
    expect(batcher.waiting).toBe(6);
    releaseFirst();
    await Promise.all([first, ...jobs]);
    // One run of all six would cost 8 + 6·30 = 188; the short and the long apart 38 + 98 = 136.
    expect(batches.map((batch) => batch.map((ids) => ids.length))).toEqual([[5], [10, 10, 10], [30, 30, 30]]);
    expect(batches[1].map((ids) => ids[0])).toEqual([0, 2, 4]);
    expect(stats.map((s) => s.runCost)).toEqual([
      { overheadMs: 8, perTokenMs: 1 },
      { overheadMs: 8, perTokenMs: 1 },
      { overheadMs: 8, perTokenMs: 1 },
    ]);
  });

  it('pads the same texts into one run when a run costs more than the padding', async () => {
    const { runner, batches, releaseFirst } = recordingRunner(-1);
    const batcher = new MicroBatcher(
      runner,
      { maxTokens: 4096, maxTexts: 64, maxPaddingRatio: 1, maxWaitMs: 0 },
      undefined,
      undefined,
      new LinearRunCost(100, 1),
    );
    const first = batcher.submit([seq(5, 100)]);
    const jobs = [10, 30, 10, 30, 10, 30].map((length, index) => batcher.submit([seq(length, index)]));
    releaseFirst();
    await Promise.all([first, ...jobs]);
    expect(batches.map((batch) => batch.length)).toEqual([1, 6]);
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

  it('retries a failed batch in halves, so a one-off failure costs no text, and keeps serving', async () => {
    let calls = 0;
    const stats: BatchStats[] = [];
    const batcher = new MicroBatcher(
      async (sequences) => {
        calls++;
        if (calls === 1) throw new Error('thread died');
        return { scores: sequences.map((ids) => [ids.length, 0, 0]), computeMs: 0 };
      },
      { maxTokens: 512, maxTexts: 8, maxPaddingRatio: 1, maxWaitMs: 0 },
      (s) => stats.push(s),
    );
    await expect(batcher.submit([seq(3), seq(4)])).resolves.toEqual([
      [3, 0, 0],
      [4, 0, 0],
    ]);
    expect(calls).toBe(3);
    // Only the runs that succeeded are reported.
    expect(stats.map((s) => s.texts)).toEqual([1, 1]);
    await expect(batcher.submit([seq(3)])).resolves.toEqual([[3, 0, 0]]);
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

/** Runners that hold each run until released, and record which runner ran what and how many ran at once. */
function heldRunners(names: string[]) {
  const runs: Array<{ runner: string; firsts: number[]; release: () => void }> = [];
  let inFlight = 0;
  let mostInFlight = 0;
  const runners = names.map((name) => async (sequences: number[][]) => {
    inFlight++;
    mostInFlight = Math.max(mostInFlight, inFlight);
    await new Promise<void>((release) =>
      runs.push({ runner: name, firsts: sequences.map((ids) => ids[0]), release }),
    );
    inFlight--;
    return { scores: sequences.map((ids) => [ids.length, ids[0], 0]), computeMs: 1 };
  });
  /** Releases the oldest held run of `name` and lets the batcher react. */
  const finish = async (name: string) => {
    const at = runs.findIndex((run) => run.runner === name);
    if (at < 0) throw new Error(`no run held on ${name}`);
    runs.splice(at, 1)[0].release();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { runners, runs, finish, mostInFlight: () => mostInFlight };
}

const unlimited = { maxTokens: 4096, maxTexts: 64, maxPaddingRatio: 1, maxWaitMs: 0 };

/** A batcher on these lanes whose cost model has no price per run: every length apart, unless equal. */
const tokensOnly = (lanes: InferenceLanes, onBatch?: (stats: BatchStats) => void) =>
  new MicroBatcher(lanes, unlimited, onBatch, undefined, new LinearRunCost(0, 1));

describe('MicroBatcher lanes', () => {
  it('runs one batch per lane at the same time, and each text gets its own scores', async () => {
    const { runners, runs, finish, mostInFlight } = heldRunners(['a', 'b']);
    // Every text its own run: short and long apart cost less than together.
    const batcher = tokensOnly({ lanes: runners });
    const first = batcher.submit([seq(3, 1)]);
    expect(runs.map((run) => run.runner)).toEqual(['a']);
    const second = batcher.submit([seq(40, 2)]);
    const third = batcher.submit([seq(3, 3)]);
    // The second lane took the oldest waiting text at once; the third waits for a free lane.
    expect(runs.map((run) => [run.runner, run.firsts])).toEqual([
      ['a', [1]],
      ['b', [2]],
    ]);
    expect(batcher.waiting).toBe(1);
    await finish('b');
    expect(runs.map((run) => [run.runner, run.firsts])).toEqual([
      ['a', [1]],
      ['b', [3]],
    ]);
    await finish('a');
    await finish('b');
    await expect(Promise.all([first, second, third])).resolves.toEqual([
      [[3, 1, 0]],
      [[40, 2, 0]],
      [[3, 3, 0]],
    ]);
    expect(mostInFlight()).toBe(2);
    await expect(batcher.idle()).resolves.toBeUndefined();
    expect(batcher.busy).toBe(false);
  });

  it('gives a run that is the only work to the solo lane, and never runs it beside a lane', async () => {
    const { runners, runs, finish, mostInFlight } = heldRunners(['a', 'b', 'solo']);
    const stats: BatchStats[] = [];
    const batcher = tokensOnly({ lanes: runners.slice(0, 2), solo: runners[2] }, (batch) =>
      stats.push(batch),
    );
    const alone = batcher.submit([seq(5, 1)]);
    expect(runs.map((run) => run.runner)).toEqual(['solo']);
    // Texts that come while the solo run computes wait for it, then go to the lanes (more than one run's worth).
    const later = [batcher.submit([seq(3, 2)]), batcher.submit([seq(60, 3)])];
    expect(runs.map((run) => run.runner)).toEqual(['solo']);
    await finish('solo');
    expect(runs.map((run) => [run.runner, run.firsts])).toEqual([
      ['a', [2]],
      ['b', [3]],
    ]);
    await finish('a');
    await finish('b');
    await Promise.all([alone, ...later]);
    // Idle again: a lone text takes the solo lane again.
    const again = batcher.submit([seq(4, 4)]);
    expect(runs.map((run) => run.runner)).toEqual(['solo']);
    await finish('solo');
    await expect(again).resolves.toEqual([[4, 4, 0]]);
    expect(mostInFlight()).toBe(2);
    // Each run's stats say whether the solo lane ran it.
    expect(stats.map((batch) => [batch.realTokens, batch.solo ?? false])).toEqual([
      [5, true],
      [3, false],
      [60, false],
      [4, true],
    ]);
  });

  it('runs a task with the sessions to itself only when idle; texts sent meanwhile run right after it', async () => {
    const { runners, runs, finish } = heldRunners(['a', 'b']);
    const batcher = tokensOnly({ lanes: runners });
    let endTask: () => void = () => undefined;
    const task = batcher.runWhileIdle(
      () => new Promise<string>((resolve) => (endTask = () => resolve('timed'))),
    );
    expect(batcher.busy).toBe(true);
    const meanwhile = batcher.submit([seq(3, 1)]);
    const drained = batcher.idle();
    await new Promise((resolve) => setImmediate(resolve));
    expect(runs).toEqual([]);
    // Busy (the task holds the sessions): a second task is not run.
    await expect(batcher.runWhileIdle(async () => 'second')).resolves.toBeUndefined();
    endTask();
    await expect(task).resolves.toBe('timed');
    expect(runs.map((run) => [run.runner, run.firsts])).toEqual([['a', [1]]]);
    // A run in flight: not idle either.
    await expect(batcher.runWhileIdle(async () => 'third')).resolves.toBeUndefined();
    await finish('a');
    await expect(meanwhile).resolves.toEqual([[3, 1, 0]]);
    await drained;
    await expect(batcher.runWhileIdle(async () => 'idle again')).resolves.toBe('idle again');
    // A task that fails releases the sessions too.
    await expect(batcher.runWhileIdle(() => Promise.reject(new Error('timing failed')))).rejects.toThrow(
      'timing failed',
    );
    const after = batcher.submit([seq(4, 2)]);
    expect(runs.map((run) => run.runner)).toEqual(['a']);
    await finish('a');
    await expect(after).resolves.toEqual([[4, 2, 0]]);
  });

  it('sends lone runs to a solo lane added later, and lanes still take the rest', async () => {
    const { runners, runs, finish } = heldRunners(['a', 'b', 'solo']);
    const soloRuns: boolean[] = [];
    const batcher = tokensOnly({ lanes: runners.slice(0, 2) }, (batch) => soloRuns.push(batch.solo ?? false));
    const before = batcher.submit([seq(5, 1)]);
    expect(runs.map((run) => run.runner)).toEqual(['a']);
    await finish('a');
    await before;
    batcher.setSolo(runners[2]);
    const alone = batcher.submit([seq(5, 2)]);
    expect(runs.map((run) => run.runner)).toEqual(['solo']);
    expect(() => batcher.setSolo(runners[2])).toThrow('the solo lane is running');
    const later = [batcher.submit([seq(3, 3)]), batcher.submit([seq(60, 4)])];
    await finish('solo');
    expect(runs.map((run) => run.runner).sort()).toEqual(['a', 'b']);
    await finish('a');
    await finish('b');
    await expect(Promise.all([alone, ...later])).resolves.toHaveLength(3);
    expect(soloRuns).toEqual([false, true, false, false]);
  });

  it('isolates a failing text on the lane its batch ran on, while the other lane keeps serving', async () => {
    const ran: string[] = [];
    const lane = (name: string) => async (sequences: number[][]) => {
      ran.push(`${name}:${sequences.length}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (sequences.some((ids) => ids[0] === 666)) throw new Error('poison');
      return { scores: sequences.map((ids) => [ids.length, ids[0], 0]), computeMs: 1 };
    };
    const batcher = new MicroBatcher({ lanes: [lane('a'), lane('b')] }, unlimited);
    const poisoned = batcher.submit([seq(3, 1), seq(3, 666)]);
    const other = batcher.submit([seq(3, 2)]);
    const results = await Promise.allSettled([poisoned, other]);
    expect(results[0]).toMatchObject({ status: 'rejected', reason: new Error('poison') });
    expect(results[1]).toEqual({ status: 'fulfilled', value: [[3, 2, 0]] });
    // The batch of two and its halves ran on lane a; lane b served the other job meanwhile.
    expect(ran.filter((run) => run.startsWith('a'))).toEqual(['a:2', 'a:1', 'a:1']);
    expect(ran).toContain('b:1');
  });

  it('refuses to be built without a lane', () => {
    expect(() => new MicroBatcher({ lanes: [] }, unlimited)).toThrow(RangeError);
  });
});

describe('MicroBatcher replacing its lanes', () => {
  it('sends new runs to the new lanes while the old run finishes, and says when the old lanes are done', async () => {
    const { runners, runs, finish, mostInFlight } = heldRunners(['whole', 'a', 'b', 'solo']);
    const batcher = tokensOnly({ lanes: [runners[0]] });
    const first = batcher.submit([seq(3, 1)]);
    const waiting = batcher.submit([seq(40, 2)]);
    expect(runs.map((run) => run.runner)).toEqual(['whole']);

    let drained = false;
    const done = batcher
      .replaceLanes({ lanes: [runners[1], runners[2]], solo: runners[3] }, new LinearRunCost(0, 1))
      .then(() => (drained = true));
    // The waiting text went to a new lane at once; the old run goes on where it started.
    expect(runs.map((run) => [run.runner, run.firsts])).toEqual([
      ['whole', [1]],
      ['a', [2]],
    ]);
    const more = batcher.submit([seq(3, 3)]);
    expect(runs.map((run) => run.runner)).toEqual(['whole', 'a', 'b']);
    await finish('a');
    await finish('b');
    expect(drained).toBe(false);
    // Nothing runs on the new lanes now, but the old run does: a lone text must not take the solo lane beside it.
    const lone = batcher.submit([seq(4, 4)]);
    expect(runs.map((run) => [run.runner, run.firsts])).toEqual([
      ['whole', [1]],
      ['a', [4]],
    ]);
    await finish('whole');
    await done;
    expect(drained).toBe(true);
    await finish('a');
    await expect(Promise.all([first, waiting, more, lone])).resolves.toEqual([
      [[3, 1, 0]],
      [[40, 2, 0]],
      [[3, 3, 0]],
      [[4, 4, 0]],
    ]);
    // Idle now: the new solo lane takes a lone text; the old runner is never used again.
    const idle = batcher.submit([seq(5, 5)]);
    expect(runs.map((run) => run.runner)).toEqual(['solo']);
    await finish('solo');
    await expect(idle).resolves.toEqual([[5, 5, 0]]);
    expect(mostInFlight()).toBe(3);
    await expect(batcher.idle()).resolves.toBeUndefined();
  });

  it('is drained at once when nothing ran on the old lanes, and refuses an empty set', async () => {
    const { runners } = heldRunners(['old', 'new']);
    const batcher = tokensOnly({ lanes: [runners[0]] });
    await expect(
      batcher.replaceLanes({ lanes: [runners[1]] }, new LinearRunCost(0, 1)),
    ).resolves.toBeUndefined();
    expect(() => batcher.replaceLanes({ lanes: [] }, new LinearRunCost(0, 1))).toThrow(RangeError);
  });

  it('keeps splitting a failed batch on the old lane, and is drained only after its last half', async () => {
    const ran: string[] = [];
    let drained = false;
    // Each run notes whether the old lanes were already said to be drained when it started ('!').
    const lane = (name: string) => async (sequences: number[][]) => {
      ran.push(`${name}:${sequences.map((ids) => ids[0]).join(',')}${drained ? '!' : ''}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (sequences.some((ids) => ids[0] === 666)) throw new Error('poison');
      return { scores: sequences.map((ids) => [ids.length, ids[0], 0]), computeMs: 1 };
    };
    const batcher = new MicroBatcher({ lanes: [lane('old')] }, unlimited);
    const poisoned = batcher.submit([seq(3, 1), seq(3, 666)]);
    const done = batcher
      .replaceLanes({ lanes: [lane('new')] }, new LinearRunCost(0, 1))
      .then(() => (drained = true));
    const later = batcher.submit([seq(3, 2)]);
    const results = await Promise.allSettled([poisoned, later]);
    expect(results[0]).toMatchObject({ status: 'rejected', reason: new Error('poison') });
    expect(results[1]).toEqual({ status: 'fulfilled', value: [[3, 2, 0]] });
    await done;
    // The batch and both its halves ran where they started, before the drain; the later text ran on the new lane.
    expect(ran.filter((run) => run.startsWith('old'))).toEqual(['old:1,666', 'old:1', 'old:666']);
    expect(ran.filter((run) => run.startsWith('new'))).toEqual(['new:2']);
    await expect(batcher.idle()).resolves.toBeUndefined();
  });

  it('plans with the cost model it is given', async () => {
    const { runners, runs, finish } = heldRunners(['old', 'new']);
    const batcher = tokensOnly({ lanes: [runners[0]] });
    const first = batcher.submit([seq(3, 1)]);
    // Under tokensOnly these would run apart; a price per run far above the padding packs them into one.
    const jobs = [batcher.submit([seq(10, 2)]), batcher.submit([seq(30, 3)])];
    void batcher.replaceLanes({ lanes: [runners[1]] }, new LinearRunCost(1000, 1));
    expect(runs.map((run) => [run.runner, run.firsts])).toEqual([
      ['old', [1]],
      ['new', [2, 3]],
    ]);
    await finish('old');
    await finish('new');
    await Promise.all([first, ...jobs]);
  });
});

describe('MicroBatcher poison isolation', () => {
  const POISON = 666;
  const policy = { maxTokens: 4096, maxTexts: 64, maxPaddingRatio: 1, maxWaitMs: 20 };
  /** A run costs more than any padding here, so the texts gathered share one batch (what the tests start from). */
  const oneRun = new LinearRunCost(1e6, 1);

  /**
   * A runner that fails any batch holding a sequence that starts with POISON, scores the others by
   * length and first id, and checks that no two runs ever overlap.
   */
  function poisonRunner(delayMs = 0) {
    const batches: number[][][] = [];
    let active = 0;
    let overlapped = false;
    const runner = async (sequences: number[][]) => {
      batches.push(sequences);
      active++;
      if (active > 1) overlapped = true;
      try {
        if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
        if (sequences.some((ids) => ids[0] === POISON)) throw new Error('poisoned batch');
        return { scores: sequences.map((ids) => [ids.length, ids[0], 0]), computeMs: 2 };
      } finally {
        active--;
      }
    };
    return { runner, batches, overlapped: () => overlapped };
  }

  const scoresOf = (texts: number[][]) => texts.map((ids) => [ids.length, ids[0], 0]);

  it('rejects only the poison text; the other jobs of its batch get their own scores, in order', async () => {
    const { runner, batches, overlapped } = poisonRunner();
    const stats: BatchStats[] = [];
    let splits = 0;
    const batcher = new MicroBatcher(
      runner,
      policy,
      (s) => stats.push(s),
      () => splits++,
      oneRun,
    );
    const jobA = [seq(5, 1), seq(3, 2)];
    const jobB = [seq(4, 3), seq(6, POISON), seq(2, 4)];
    const jobC = [seq(7, 5), seq(5, 6), seq(3, 7)];
    const [a, b, c] = await Promise.allSettled([
      batcher.submit(jobA),
      batcher.submit(jobB),
      batcher.submit(jobC),
    ]);
    expect(a).toEqual({ status: 'fulfilled', value: scoresOf(jobA) });
    expect(c).toEqual({ status: 'fulfilled', value: scoresOf(jobC) });
    expect(b.status).toBe('rejected');
    expect((b as PromiseRejectedResult).reason).toEqual(new Error('poisoned batch'));
    // A job fails at its first rejected text; the bisect may still be finishing.
    await batcher.idle();

    // All 8 texts shared the first batch; the bisect then took 1 + 2·log2(8) = 7 runs in all.
    expect(batches[0]).toHaveLength(8);
    expect(batches).toHaveLength(7);
    expect(batches.length).toBeLessThanOrEqual(1 + 2 * Math.ceil(Math.log2(8)));
    expect(splits).toBe(3);
    // The poison text ran alone exactly once; every other text succeeded exactly once.
    expect(batches.filter((batch) => batch.length === 1 && batch[0][0] === POISON)).toHaveLength(1);
    expect(stats.reduce((sum, s) => sum + s.texts, 0)).toBe(7);
    expect(stats.every((s) => s.computeMs === 2)).toBe(true);
    expect(overlapped()).toBe(false);
  });

  it('isolates two poison texts of one batch', async () => {
    const { runner, batches } = poisonRunner();
    const stats: BatchStats[] = [];
    const batcher = new MicroBatcher(runner, policy, (s) => stats.push(s));
    const jobs = [
      [seq(3, 1), seq(3, 2)],
      [seq(3, POISON)],
      [seq(3, 3), seq(3, 4), seq(3, 5)],
      [seq(3, 6), seq(3, POISON)],
      [seq(3, 7)],
    ];
    const results = await Promise.allSettled(jobs.map((job) => batcher.submit(job)));
    await batcher.idle();
    expect(results.map((result) => result.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    expect((results[0] as PromiseFulfilledResult<number[][]>).value).toEqual(scoresOf(jobs[0]));
    expect((results[2] as PromiseFulfilledResult<number[][]>).value).toEqual(scoresOf(jobs[2]));
    expect((results[4] as PromiseFulfilledResult<number[][]>).value).toEqual(scoresOf(jobs[4]));
    expect((results[1] as PromiseRejectedResult).reason.message).toBe('poisoned batch');
    expect((results[3] as PromiseRejectedResult).reason.message).toBe('poisoned batch');
    expect(batches[0]).toHaveLength(9);
    expect(batches.filter((batch) => batch.length === 1 && batch[0][0] === POISON)).toHaveLength(2);
    // Texts 6 and 7 of job 4 and job 5 (and every other good text) were scored once, in a batch that succeeded.
    expect(stats.reduce((sum, s) => sum + s.texts, 0)).toBe(7);
    expect(batches.length).toBeLessThanOrEqual(1 + 2 * 2 * Math.ceil(Math.log2(9)));
  });

  it('rejects every text, with at most 2n - 1 runs, when the failure is not about the texts', async () => {
    const runs: number[] = [];
    const stats: BatchStats[] = [];
    let splits = 0;
    const batcher = new MicroBatcher(
      async (sequences) => {
        runs.push(sequences.length);
        throw new Error('session closed');
      },
      policy,
      (s) => stats.push(s),
      () => splits++,
      oneRun,
    );
    const jobs = [[seq(3, 1), seq(4, 2), seq(5, 3)], [seq(3, 4)], [seq(6, 5), seq(2, 6), seq(3, 7)]];
    const n = jobs.flat().length;
    const results = await Promise.allSettled(jobs.map((job) => batcher.submit(job)));
    await batcher.idle();
    for (const result of results) {
      expect(result.status).toBe('rejected');
      expect((result as PromiseRejectedResult).reason.message).toBe('session closed');
    }
    expect(runs[0]).toBe(n);
    expect(runs.length).toBeLessThanOrEqual(2 * n - 1);
    // Each text was tried alone once before it was rejected.
    expect(runs.filter((texts) => texts === 1)).toHaveLength(n);
    expect(splits).toBe(n - 1);
    expect(stats).toEqual([]);
  });

  it('goes back to idle after a split and keeps texts that arrived meanwhile for the next batch', async () => {
    const { runner, batches, overlapped } = poisonRunner(5);
    const stats: BatchStats[] = [];
    const batcher = new MicroBatcher(runner, { ...policy, maxWaitMs: 0 }, (s) => stats.push(s));
    const poisoned = batcher.submit([seq(3, 1), seq(3, POISON), seq(3, 2), seq(3, 3)]);
    // With maxWaitMs 0 the first job's batch starts at once; these arrive while it (and its bisect) runs.
    expect(batcher.busy).toBe(true);
    const good = batcher.submit([seq(3, 4)]);
    await new Promise((resolve) => setTimeout(resolve, 1));
    const late = batcher.submit([seq(4, 50), seq(4, 51)]);
    expect(batcher.waiting).toBe(3);

    await expect(poisoned).rejects.toThrow('poisoned batch');
    await expect(good).resolves.toEqual([[3, 4, 0]]);
    await expect(late).resolves.toEqual([
      [4, 50, 0],
      [4, 51, 0],
    ]);
    await batcher.idle();
    expect(batcher.busy).toBe(false);
    expect(batcher.waiting).toBe(0);

    // The bisect ran the halves in order, one at a time: 1 + 2·log2(4) runs. The texts that arrived
    // meanwhile waited and ran together in the next batch, never mixed into the bisect.
    expect(batches.map((batch) => batch.map((ids) => ids[0]))).toEqual([
      [1, POISON, 2, 3],
      [1, POISON],
      [1],
      [POISON],
      [2, 3],
      [4, 50, 51],
    ]);
    expect(overlapped()).toBe(false);

    // And later batches still run.
    await expect(batcher.submit([seq(2, 60)])).resolves.toEqual([[2, 60, 0]]);
    await batcher.idle();
    expect(batches[batches.length - 1]).toEqual([seq(2, 60)]);
    expect(stats[stats.length - 1].texts).toBe(1);
  });
});
