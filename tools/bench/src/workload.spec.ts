import {
  chunk,
  duplicateWorkload,
  lengthSortedBatches,
  seededRandom,
  shuffled,
  warmupTexts,
} from './workload';

const pool = Array.from({ length: 500 }, (_, i) => `tweet number ${i}`);

describe('duplicateWorkload', () => {
  it('holds the requested share of repeats of distinct tweets', () => {
    const workload = duplicateWorkload(pool, 200, 0.3, 42);
    expect(workload.texts).toHaveLength(200);
    expect(workload.unique).toBe(140);
    expect(workload.repeats).toBe(60);
    expect(new Set(workload.texts).size).toBe(140);
  });

  it('sends every repeat after the first sending of its tweet', () => {
    const { texts } = duplicateWorkload(pool, 300, 0.3, 7);
    const seen = new Set<string>();
    let repeats = 0;
    for (const text of texts) {
      if (seen.has(text)) repeats++;
      seen.add(text);
    }
    expect(repeats).toBe(90);
    expect(pool).toContain(texts[0]);
  });

  it('is shuffled: the originals are not in pool order and repeats are spread out', () => {
    const { texts } = duplicateWorkload(pool, 200, 0.3, 42);
    const firstSeen = texts.filter((text, i) => texts.indexOf(text) === i);
    expect(firstSeen).not.toEqual(pool.slice(0, 140));
    const repeatPositions = texts.map((text, i) => (texts.indexOf(text) < i ? i : -1)).filter((i) => i >= 0);
    expect(repeatPositions[0]).toBeLessThan(150);
  });

  it('is the same for the same seed and differs for another', () => {
    expect(duplicateWorkload(pool, 100, 0.3, 1).texts).toEqual(duplicateWorkload(pool, 100, 0.3, 1).texts);
    expect(duplicateWorkload(pool, 100, 0.3, 1).texts).not.toEqual(
      duplicateWorkload(pool, 100, 0.3, 2).texts,
    );
  });

  it('has no repeats at share 0 and refuses what it cannot build', () => {
    expect(new Set(duplicateWorkload(pool, 50, 0, 1).texts).size).toBe(50);
    expect(() => duplicateWorkload(pool, 50, 1, 1)).toThrow(RangeError);
    expect(() => duplicateWorkload(pool.slice(0, 10), 100, 0.3, 1)).toThrow(/distinct/);
  });

  it('counts duplicates in the pool once', () => {
    const doubled = [...pool.slice(0, 50), ...pool.slice(0, 50)];
    expect(() => duplicateWorkload(doubled, 100, 0.3, 1)).toThrow(/has 50/);
  });
});

describe('seededRandom and shuffled', () => {
  it('stays within [0, 1) and repeats for a seed', () => {
    const a = seededRandom(3);
    const b = seededRandom(3);
    for (let i = 0; i < 100; i++) {
      const value = a();
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThan(1);
      expect(b()).toBe(value);
    }
  });

  it('permutes without losing or copying items', () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    const out = shuffled(items, seededRandom(1));
    expect([...out].sort((x, y) => x - y)).toEqual(items);
    expect(out).not.toEqual(items);
  });
});

describe('chunk and lengthSortedBatches', () => {
  it('cuts into consecutive slices, the last one shorter', () => {
    expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(() => chunk([1], 0)).toThrow(RangeError);
  });

  it('sorts sequences by length before batching', () => {
    const batches = lengthSortedBatches([[1, 1, 1], [1], [1, 1, 1, 1], [1, 1]], 2);
    expect(batches.map((batch) => batch.map((ids) => ids.length))).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });
});

describe('warmupTexts', () => {
  it('gives distinct texts that are not tweets of the workload', () => {
    const texts = warmupTexts(5);
    expect(new Set(texts).size).toBe(5);
    expect(texts.some((text) => pool.includes(text))).toBe(false);
  });
});
