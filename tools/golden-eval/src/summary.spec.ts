import { GoldenQuality, judge, RunReportLike, summarize } from './summary';

const LABELS = ['negative', 'neutral', 'positive'];

function report(golden: Partial<GoldenQuality>): RunReportLike {
  return {
    id: '20261126T080000000Z-abcdef',
    quality: { golden: { status: 'measured', modelVersion: 'fp32-0123456789ab', count: 10, ...golden } },
  };
}

const measured = report({
  accuracy: 0.7,
  macroRecall: 0.6666,
  macroF1: 0.65,
  durationMs: 1_500,
  perClass: {
    negative: { precision: 1, recall: 0.5, f1: 2 / 3, support: 4 },
    neutral: { precision: 0.5, recall: 1, f1: 2 / 3, support: 2 },
    positive: { precision: 0.75, recall: 0.75, f1: 0.75, support: 4 },
  },
  confusion: [
    [2, 1, 1],
    [0, 2, 0],
    [0, 1, 3],
  ],
});

describe('judge', () => {
  it('passes a measured set, with or without a floor it reaches', () => {
    expect(judge(measured)).toEqual({ ok: true, problems: [] });
    expect(judge(measured, 0.6)).toEqual({ ok: true, problems: [] });
  });

  it('fails below the floor, naming both numbers', () => {
    expect(judge(measured, 0.7)).toEqual({
      ok: false,
      problems: ['macro recall 0.6666 is below the floor 0.7000'],
    });
  });

  it('fails when the golden set was not measured, with the reason', () => {
    expect(judge(report({ status: 'failed', count: 0, error: 'no worker answered in 60000 ms' }))).toEqual({
      ok: false,
      problems: ['golden set failed: no worker answered in 60000 ms'],
    });
    expect(judge(report({ status: 'disabled', count: 0 }), 0.5).problems).toEqual(['golden set disabled']);
  });
});

describe('summarize', () => {
  it('shows the headline metrics, every class in label order, and the confusion matrix', () => {
    const text = summarize(measured, LABELS);
    expect(text).toContain('model version `fp32-0123456789ab`, 10 examples in 1.5 s');
    expect(text).toContain("| macro recall (TweetEval's metric) | 0.6666 |");
    const classRows = text
      .split('\n')
      .filter((line) => /^\| (negative|neutral|positive) \| \d\.\d{4}/.test(line));
    expect(classRows).toEqual([
      '| negative | 1.0000 | 0.5000 | 0.6667 | 4 |',
      '| neutral | 0.5000 | 1.0000 | 0.6667 | 2 |',
      '| positive | 0.7500 | 0.7500 | 0.7500 | 4 |',
    ]);
    expect(text).toContain('| true \\ predicted | negative | neutral | positive |');
    expect(text).toContain('| negative | 2 | 1 | 1 |');
  });

  it('says why nothing was measured', () => {
    const text = summarize(report({ status: 'failed', count: 0, error: 'timeout' }), LABELS);
    expect(text).toContain('not measured: failed (timeout)');
    expect(text).not.toContain('| accuracy |');
  });
});
