import { LabelPair, confusionMatrix, qualityFromConfusion, qualityMetrics, zipLabels } from './quality';

/** Expands a confusion matrix (rows true, columns predicted, schema order) into pairs. */
function pairsOf(matrix: number[][]): LabelPair[] {
  const pairs: LabelPair[] = [];
  matrix.forEach((row, t) => row.forEach((n, p) => pairs.push(...Array(n).fill({ truth: t, predicted: p }))));
  return pairs;
}

describe('quality metrics', () => {
  it('matches a hand-computed confusion matrix', () => {
    //             predicted: neg neu pos | support
    const matrix = [
      [5, 2, 1], // true neg              8
      [1, 6, 3], // true neu             10
      [0, 1, 5], // true pos              6
    ]; //  predicted totals:   6   9   9 | 24
    const q = qualityMetrics(pairsOf(matrix));
    expect(q.confusion).toEqual(matrix);
    expect(q.count).toBe(24);
    // accuracy = (5 + 6 + 5) / 24 = 16/24
    expect(q.accuracy).toBeCloseTo(16 / 24, 12);
    // precision = diagonal / column total: 5/6, 6/9, 5/9
    expect(q.perClass.negative.precision).toBeCloseTo(5 / 6, 12);
    expect(q.perClass.neutral.precision).toBeCloseTo(6 / 9, 12);
    expect(q.perClass.positive.precision).toBeCloseTo(5 / 9, 12);
    // recall = diagonal / row total: 5/8, 6/10, 5/6
    expect(q.perClass.negative.recall).toBeCloseTo(5 / 8, 12);
    expect(q.perClass.neutral.recall).toBeCloseTo(6 / 10, 12);
    expect(q.perClass.positive.recall).toBeCloseTo(5 / 6, 12);
    // F1 = 2tp / (2tp + fp + fn): neg 10/(10+1+3) = 10/14, neu 12/(12+3+4) = 12/19, pos 10/(10+4+1) = 10/15
    expect(q.perClass.negative.f1).toBeCloseTo(10 / 14, 12);
    expect(q.perClass.neutral.f1).toBeCloseTo(12 / 19, 12);
    expect(q.perClass.positive.f1).toBeCloseTo(10 / 15, 12);
    // macro recall = (0.625 + 0.6 + 0.833333) / 3 = 0.686111; macro F1 = (0.714286 + 0.631579 + 0.666667) / 3 = 0.670844
    expect(q.macroRecall).toBeCloseTo((5 / 8 + 6 / 10 + 5 / 6) / 3, 12);
    expect(q.macroRecall).toBeCloseTo(0.686111, 6);
    expect(q.macroF1).toBeCloseTo(0.670844, 6);
    // macro precision = (0.833333 + 0.666667 + 0.555556) / 3 = 0.685185
    expect(q.macroPrecision).toBeCloseTo(0.685185, 6);
    expect(q.perClass.neutral).toMatchObject({ support: 10, predicted: 9 });
  });

  it('defines 0/0 as 0 and keeps absent classes in the macro averages', () => {
    //             predicted: neg neu pos
    const matrix = [
      [4, 0, 1], // true neg: support 5
      [2, 0, 3], // true neu: support 5
      [0, 0, 0], // true pos: support 0
    ]; // neutral never predicted, positive never true
    const q = qualityFromConfusion(matrix);
    // accuracy = 4 / 10
    expect(q.accuracy).toBeCloseTo(0.4, 12);
    // neutral precision = 0 / 0 → 0; positive recall = 0 / 0 → 0; positive precision = 0 / 4 = 0
    expect(q.perClass.neutral.precision).toBe(0);
    expect(q.perClass.positive.recall).toBe(0);
    expect(q.perClass.positive.precision).toBe(0);
    // negative: precision 4/6, recall 4/5, F1 = 8 / (8 + 2 + 1) = 8/11
    expect(q.perClass.negative.f1).toBeCloseTo(8 / 11, 12);
    // macro recall = (0.8 + 0 + 0) / 3 = 0.266667; macro F1 = (0.727273 + 0 + 0) / 3 = 0.242424
    expect(q.macroRecall).toBeCloseTo(0.8 / 3, 12);
    expect(q.macroF1).toBeCloseTo(8 / 11 / 3, 12);
  });

  it('reports zeros for no samples', () => {
    const q = qualityMetrics([]);
    expect(q).toMatchObject({ count: 0, accuracy: 0, macroRecall: 0, macroF1: 0 });
  });

  it('accepts label names in any case and indices, and names a bad label', () => {
    const pairs = zipLabels(['Negative', 1, '2'], ['negative', 'NEUTRAL', 0]);
    expect(confusionMatrix(pairs)).toEqual([
      [1, 0, 0],
      [0, 1, 0],
      [1, 0, 0],
    ]);
    expect(() => qualityMetrics([{ truth: 'happy', predicted: 0 }])).toThrow(
      'pairs[0].truth is not a sentiment label',
    );
    expect(() => zipLabels([0], [])).toThrow('differ in length');
    expect(() => qualityFromConfusion([[1]])).toThrow('3×3');
  });
});
