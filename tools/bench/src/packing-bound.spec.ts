import { LinearRunCost } from '@reputation-monitor/model-runtime';
import { packingBound, workerLanes, workerLimits } from './packing-bound';

const limits = { maxTokens: 4096, maxTexts: 64, maxPaddingRatio: 1 };
// Tweet-like lengths: 10 to 60 tokens, in a fixed scrambled order.
const lengths = Array.from({ length: 600 }, (_, i) => 10 + ((i * 37) % 51));

it('reaches the ceiling when a run costs nothing but its tokens and every text has one length', () => {
  const bound = packingBound(Array(100).fill(20), new LinearRunCost(0, 1), 32, limits);
  expect(bound.ratio).toBeCloseTo(1, 9);
  expect(bound.padding).toBe(0);
});

it('falls with the overhead per run and rises with the clients', () => {
  const cheap = packingBound(lengths, new LinearRunCost(4, 1), 32, limits);
  const dear = packingBound(lengths, new LinearRunCost(30, 1), 32, limits);
  const more = packingBound(lengths, new LinearRunCost(30, 1), 64, limits);
  expect(dear.ratio).toBeLessThan(cheap.ratio);
  expect(more.ratio).toBeGreaterThan(dear.ratio);
  // A dearer run is worth more padding: bigger runs.
  expect(dear.textsPerRun).toBeGreaterThan(cheap.textsPerRun);
  for (const bound of [cheap, dear, more]) expect(bound.ratio).toBeLessThan(1);
});

it('keeps the last run out of the next plan: one client alone runs every text by itself', () => {
  const bound = packingBound(lengths, new LinearRunCost(10, 1), 1, limits, { rounds: 1 });
  expect(bound.textsPerRun).toBe(1);
  expect(bound.padding).toBe(0);
});

it("keeps every lane's run out of the pool: with two lanes the runs are smaller and the ratio lower", () => {
  const one = packingBound(lengths, new LinearRunCost(30, 1), 32, limits);
  const two = packingBound(lengths, new LinearRunCost(30, 1), 32, limits, { lanes: 2 });
  expect(two.textsPerRun).toBeLessThan(one.textsPerRun);
  expect(two.ratio).toBeLessThan(one.ratio);
  // Two clients on two lanes: each lane runs one client's text at a time.
  expect(
    packingBound(lengths, new LinearRunCost(10, 1), 2, limits, { rounds: 1, lanes: 2 }).textsPerRun,
  ).toBe(1);
});

it("lets a lane that waits for its last run's texts plan from a fuller pool: bigger runs, a higher ratio", () => {
  for (const lanes of [1, 2]) {
    const now = packingBound(lengths, new LinearRunCost(30, 1), 32, limits, { lanes });
    const waiting = packingBound(lengths, new LinearRunCost(30, 1), 32, limits, {
      lanes,
      waitForReturns: true,
    });
    expect(waiting.textsPerRun).toBeGreaterThan(now.textsPerRun);
    expect(waiting.ratio).toBeGreaterThan(now.ratio);
  }
  // One client who is always waited for: its texts run one at a time either way.
  expect(
    packingBound(lengths, new LinearRunCost(10, 1), 1, limits, { rounds: 1, waitForReturns: true })
      .textsPerRun,
  ).toBe(1);
});

it('refuses an empty workload', () => {
  expect(() => packingBound([], new LinearRunCost(1, 1), 4, limits)).toThrow(RangeError);
});

it("takes the worker's run limits from --worker-env, its defaults elsewhere", () => {
  expect(workerLimits({ BATCH_MAX_TEXTS: '16', BATCH_MAX_PADDING: '0.1', OTHER: 'x' })).toEqual({
    maxTokens: 4096,
    maxTexts: 16,
    maxPaddingRatio: 0.1,
  });
  expect(workerLimits({ BATCH_MAX_TOKENS: 'many' }).maxTokens).toBe(4096);
});

it("takes the worker's lane count from --worker-env, auto (0) where unset or not a positive integer", () => {
  expect(workerLanes({ INFERENCE_LANES: '1' })).toBe(1);
  expect(workerLanes({})).toBe(0);
  expect(workerLanes({ INFERENCE_LANES: 'two' })).toBe(0);
  expect(workerLanes({ INFERENCE_LANES: '-1' })).toBe(0);
});
