import { drive, statusCounts } from './load-driver';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('drive', () => {
  it('sends every item once with at most `clients` in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const sent: number[] = [];
    const { outcomes } = await drive(
      Array.from({ length: 25 }, (_, i) => i),
      4,
      async (item) => {
        inFlight++;
        most = Math.max(most, inFlight);
        sent.push(item);
        await tick();
        inFlight--;
        return { status: 200, texts: 1, tokens: item };
      },
    );
    expect(most).toBe(4);
    expect([...sent].sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(outcomes).toHaveLength(25);
    expect(outcomes.every((outcome) => outcome.latencyMs >= 0)).toBe(true);
  });

  it('records a thrown call as status 0 with its message and goes on', async () => {
    const { outcomes } = await drive([1, 2, 3], 1, async (item) => {
      if (item === 2) throw new Error('connection reset');
      return { status: 200, texts: 1, tokens: 1 };
    });
    expect(statusCounts(outcomes)).toEqual({ '0': 1, '200': 2 });
    expect(outcomes.find((outcome) => outcome.status === 0)?.error).toBe('connection reset');
  });

  it('cycles through the items until the deadline when given one, pausing after refusals', async () => {
    const until = performance.now() + 1000;
    const sent: string[] = [];
    const { outcomes } = await drive(
      ['a', 'b'],
      1,
      async (item) => {
        sent.push(item);
        // From the fifth call on, answer only once the deadline has passed: the loop must stop then.
        while (sent.length >= 5 && performance.now() < until)
          await new Promise((resolve) => setTimeout(resolve, 20));
        return { status: 429, texts: 0, tokens: 0 };
      },
      { until, pauseAfterMs: (status) => (status === 429 ? 1 : 0) },
    );
    expect(sent).toEqual(['a', 'b', 'a', 'b', 'a']);
    expect(statusCounts(outcomes)).toEqual({ '429': 5 });
  });

  it('leaves a pause after every answer when asked for one (a quiet system)', async () => {
    const sentAt: number[] = [];
    const { outcomes } = await drive(
      [1, 2, 3],
      1,
      async () => {
        sentAt.push(performance.now());
        return { status: 200, texts: 1, tokens: 1 };
      },
      { gapMs: 40 },
    );
    expect(outcomes).toHaveLength(3);
    const gaps = sentAt.slice(1).map((at, index) => at - sentAt[index]);
    // Timers may fire a millisecond early; never much earlier.
    gaps.forEach((gap) => expect(gap).toBeGreaterThanOrEqual(39));
    // The pause is not part of a request's latency.
    outcomes.forEach((outcome) => expect(outcome.latencyMs).toBeLessThan(30));
  });

  it('does nothing for no items', async () => {
    expect(await drive([], 3, async () => ({ status: 200, texts: 1, tokens: 1 }))).toEqual({
      seconds: 0,
      outcomes: [],
    });
  });
});
