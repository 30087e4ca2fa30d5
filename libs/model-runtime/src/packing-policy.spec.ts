import {
  LinearRunCost,
  MAX_PLANNED_TEXTS,
  PackingLimits,
  calibrateRunCost,
  calibrationShapes,
  fitLine,
  planBatch,
} from './packing-policy';

const open: PackingLimits = { maxTokens: 4096, maxTexts: 64, maxPaddingRatio: 1 };
/** Lengths of the texts of a plan, for readable expectations. */
const lengthsOf = (lengths: number[], picked: number[]) => picked.map((index) => lengths[index]);

describe('planBatch', () => {
  it('returns nothing for nothing and the one text for one', () => {
    expect(planBatch([], new LinearRunCost(8, 1), open)).toEqual([]);
    expect(planBatch([17], new LinearRunCost(8, 1), open)).toEqual([0]);
  });

  it('splits where a separate run costs less than the padding it saves', () => {
    // One run: 8 + 6·30 = 188 ms. Two: (8 + 3·10) + (8 + 3·30) = 136 ms. The oldest (index 0) is short.
    const lengths = [10, 30, 10, 30, 10, 30];
    expect(lengthsOf(lengths, planBatch(lengths, new LinearRunCost(8, 1), open))).toEqual([10, 10, 10]);
  });

  it('pads instead when a run costs more than the padding', () => {
    // One run: 100 + 180 = 280 ms; two: 200 + 120 = 320 ms.
    const lengths = [10, 30, 10, 30, 10, 30];
    expect(planBatch(lengths, new LinearRunCost(100, 1), open)).toEqual([0, 2, 4, 1, 3, 5]);
  });

  it('weighs overhead against padding per cut: texts of similar length share a run, outliers do not', () => {
    // Overhead worth 10 tokens: 20-22 together (6 pad tokens < 10), 40-41 together, 90 alone.
    const lengths = [21, 90, 40, 20, 22, 41];
    const cost = new LinearRunCost(10, 1);
    expect(lengthsOf(lengths, planBatch(lengths, cost, open))).toEqual([20, 21, 22]);
    // Once the short ones are gone, the 90 (now the oldest) runs without the 40s.
    expect(lengthsOf([90, 40, 41], planBatch([90, 40, 41], cost, open))).toEqual([90]);
  });

  it('always runs the oldest text next, however long', () => {
    const lengths = [300, 10, 10, 10, 11];
    expect(planBatch(lengths, new LinearRunCost(8, 1), open)).toEqual([0]);
  });

  it('takes the longest run for the oldest text when plans cost the same', () => {
    // No overhead: one run of three equal texts costs what three runs do; all three go now.
    expect(planBatch([12, 12, 12], new LinearRunCost(0, 1), open)).toEqual([0, 1, 2]);
    // 10 equal texts, 4 per run: 4 + 4 + 2 or 2 + 4 + 4 cost the same; the oldest's run is a full one.
    const huge = new LinearRunCost(1e6, 1);
    expect(
      planBatch(
        Array.from({ length: 10 }, () => 50),
        huge,
        { ...open, maxTexts: 4 },
      ),
    ).toEqual([0, 1, 2, 3]);
  });

  it('keeps every run within the hard limits, whatever the cost model prefers', () => {
    const huge = new LinearRunCost(1e6, 1); // a run is so dear that one run of everything would win
    const lengths = Array.from({ length: 10 }, () => 50);
    expect(planBatch(lengths, huge, { ...open, maxTexts: 4 })).toHaveLength(4);
    expect(planBatch(lengths, huge, { ...open, maxTokens: 160 })).toHaveLength(3);
    // 10 and 12 share a run only while the padding share is at most 10 %.
    // 10, 11 and 13 would pad 12.8 %: two runs, the oldest's the cheaper split.
    expect(lengthsOf([10, 13, 11], planBatch([10, 13, 11], huge, { ...open, maxPaddingRatio: 0.1 }))).toEqual(
      [10, 11],
    );
  });

  it('plans around the oldest text when more texts wait than it searches', () => {
    const lengths = Array.from({ length: MAX_PLANNED_TEXTS + 500 }, (_, index) => 10 + (index % 50));
    const plan = planBatch(lengths, new LinearRunCost(8, 1), open);
    expect(plan).toContain(0);
    expect(plan.every((index) => Math.abs(lengths[index] - lengths[0]) <= 1)).toBe(true);
  });
});

describe('calibrateRunCost', () => {
  it('fits the line through the fastest time of each shape, timing the shapes in turn', async () => {
    // 8 ms + 1 ms per padded token, with interference on some runs (it only ever adds time).
    const slowdowns = [1, 1.5, 1, 1, 1, 1, 3, 1.2];
    const calls: string[] = [];
    const cost = await calibrateRunCost(
      async (texts, width) => {
        calls.push(`${texts}x${width}`);
        return (8 + texts * width) * (slowdowns[calls.length - 1] ?? 1);
      },
      [
        [1, 16],
        [4, 32],
        [16, 32],
      ],
      new LinearRunCost(1, 1),
    );
    expect(calls).toEqual(['1x16', '4x32', '16x32', '1x16', '4x32', '16x32', '1x16', '4x32', '16x32']);
    expect(cost.overheadMs).toBeCloseTo(8);
    expect(cost.perTokenMs).toBeCloseTo(1);
  });

  it('never estimates a negative overhead', async () => {
    const cost = await calibrateRunCost(
      async (texts, width) => 2 * texts * width - 20,
      [
        [1, 16],
        [16, 32],
      ],
      new LinearRunCost(8, 1),
      1,
    );
    expect(cost.overheadMs).toBe(0);
    expect(cost.perTokenMs).toBeCloseTo(2);
  });

  it('falls back when the times make no rising line', async () => {
    const fallback = new LinearRunCost(8, 1);
    expect(await calibrateRunCost(async () => 5, calibrationShapes(open), fallback)).toBe(fallback);
  });

  it('times a short text, then batches of 32 tokens up to 16 texts, within the limits', () => {
    expect(calibrationShapes(open)).toEqual([
      [1, 16],
      [1, 32],
      [4, 32],
      [16, 32],
    ]);
    expect(calibrationShapes({ maxTokens: 64, maxTexts: 64 })).toEqual([
      [1, 16],
      [1, 32],
      [2, 32],
    ]);
    expect(calibrationShapes({ maxTokens: 4096, maxTexts: 1 })).toEqual([
      [1, 16],
      [1, 32],
    ]);
  });
});

describe('fitLine', () => {
  it('finds the line through exact points and the least-squares line through noisy ones', () => {
    expect(
      fitLine([
        [16, 24],
        [512, 520],
        [100, 108],
      ]),
    ).toEqual({ intercept: 8, slope: 1 });
    const fit = fitLine([
      [0, 1],
      [1, 2],
      [2, 2],
      [3, 4],
    ]);
    expect(fit?.slope).toBeCloseTo(0.9);
    expect(fit?.intercept).toBeCloseTo(0.9);
  });

  it('weighs points as told: relative errors let a slow outlier among large runs move the line less', () => {
    const points: Array<[number, number]> = [
      [16, 24],
      [32, 40],
      [512, 520],
      [1024, 1500],
    ];
    const plain = fitLine(points);
    const relative = fitLine(points, (_, y) => 1 / (y * y));
    expect(Math.abs((relative?.intercept ?? 0) - 8)).toBeLessThan(Math.abs((plain?.intercept ?? 0) - 8));
  });

  it('has no line for one point or one x', () => {
    expect(fitLine([[1, 2]])).toBeUndefined();
    expect(
      fitLine([
        [3, 1],
        [3, 2],
      ]),
    ).toBeUndefined();
  });
});
