import type { ClassifyJobResult, SentimentLabel } from '@reputation-monitor/contracts';
import { chunk, pairUp } from './golden-runner';

const result = (version: string, labels: SentimentLabel[]): ClassifyJobResult => ({
  v: 1,
  model: { name: 'tiny', version },
  predictions: labels.map((label, i) => ({
    id: `p${i}`,
    label,
    scores: { negative: 0.2, neutral: 0.2, positive: 0.2, [label]: 0.6 },
    tokens: 9,
    truncated: false,
  })),
  timings: { queueMs: 1, processingMs: 1 },
});

describe('pairUp', () => {
  it("pairs each chunk's predictions with its items' labels, in order", () => {
    const run = pairUp(
      [
        [
          { text: 'a', label: 'positive' },
          { text: 'b', label: 'negative' },
        ],
        [{ text: 'c', label: 'neutral' }],
      ],
      [result('v1', ['positive', 'positive']), result('v1', ['neutral'])],
      12,
    );
    expect(run).toMatchObject({ modelVersion: 'v1', modelName: 'tiny', otherVersions: 0, durationMs: 12 });
    expect(run.pairs).toEqual([
      { truth: 'positive', predicted: 'positive' },
      { truth: 'negative', predicted: 'positive' },
      { truth: 'neutral', predicted: 'neutral' },
    ]);
    expect(run.predictions).toHaveLength(3);
  });

  it('keeps the version that answered most items when a rollout splits the golden set', () => {
    const run = pairUp(
      [
        [{ text: 'a', label: 'positive' }],
        [
          { text: 'b', label: 'negative' },
          { text: 'c', label: 'negative' },
        ],
      ],
      [result('old', ['positive']), result('new', ['negative', 'positive'])],
      1,
    );
    expect(run.modelVersion).toBe('new');
    expect(run.otherVersions).toBe(1);
    expect(run.pairs).toHaveLength(2);
  });

  it('refuses a result that does not match its chunk', () => {
    expect(() => pairUp([[{ text: 'a', label: 'positive' }]], [result('v1', [])], 1)).toThrow(
      'golden chunk 0: 0 predictions for 1 texts',
    );
  });
});

describe('chunk', () => {
  it('splits in order into chunks of at most the size', () => {
    expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunk([], 3)).toEqual([]);
    expect(() => chunk([1], 0)).toThrow(RangeError);
  });
});
