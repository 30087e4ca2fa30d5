import { LabelledExample, SENTIMENT_LABELS } from '@reputation-monitor/contracts';
import { splitDataset } from './split';

const example = (i: number, label = SENTIMENT_LABELS[i % 3], at = 1_000 + i): LabelledExample => ({
  id: i.toString(16).padStart(32, '0'),
  text: `text ${i}`,
  label,
  source: '',
  origin: 'import',
  at,
});

describe('splitDataset', () => {
  const all = Array.from({ length: 100 }, (_, i) => example(i));

  it('holds out the newest share by labelling time, ties broken by id', () => {
    const shuffled = [...all].reverse();
    const split = splitDataset(shuffled, { seed: 1, holdoutShare: 0.2 });
    expect(split.holdout.map((e) => e.at)).toEqual(all.slice(80).map((e) => e.at));
    expect(split.holdoutFrom).toBe(1_080);
    expect(split.train.length + split.validation.length).toBe(80);
    // Ties in time (a batch import) are broken by id, whatever order the records come in.
    const sameTime = Array.from({ length: 10 }, (_, i) => example(i, SENTIMENT_LABELS[i % 3], 5));
    const forward = splitDataset(sameTime, { seed: 1, holdoutShare: 0.2 });
    const backward = splitDataset([...sameTime].reverse(), { seed: 1, holdoutShare: 0.2 });
    expect(forward.holdout.map((e) => e.id)).toEqual([example(8).id, example(9).id]);
    expect(backward.holdoutDigest).toBe(forward.holdoutDigest);
  });

  it('keeps a stratified validation share of each label, the same for a seed, another for another seed', () => {
    const a = splitDataset(all, { seed: 1, validationShare: 0.25 });
    for (const label of SENTIMENT_LABELS) {
      const inTrain = a.train.filter((e) => e.label === label).length;
      const inValidation = a.validation.filter((e) => e.label === label).length;
      expect(inValidation).toBe(Math.round((inTrain + inValidation) * 0.25));
    }
    expect(splitDataset(all, { seed: 1, validationShare: 0.25 }).validation).toEqual(a.validation);
    expect(splitDataset(all, { seed: 2, validationShare: 0.25 }).validation).not.toEqual(a.validation);
    expect(a.holdoutDigest).toBe(splitDataset(all, { seed: 2 }).holdoutDigest);
  });

  it('leaves golden-set texts out of training and validation, not out of the holdout', () => {
    const split = splitDataset(all, { seed: 1, goldenTexts: new Set(['text 3', 'text 95']) });
    expect(split.excludedGolden).toBe(1);
    expect([...split.train, ...split.validation].some((e) => e.text === 'text 3')).toBe(false);
    expect(split.holdout.some((e) => e.text === 'text 95')).toBe(true);
  });

  it.each([
    [[], {}, /holds no examples/],
    [all.map((e) => ({ ...e, label: 'positive' as const })), {}, /one label only \(positive\)/],
    [all, { holdoutShare: 1 }, /holdout share must be in \(0, 1\)/],
    [all, { validationShare: 0 }, /validation share must be in \(0, 1\)/],
  ])('refuses unusable input %#', (examples, options, message) => {
    expect(() => splitDataset(examples as LabelledExample[], { seed: 1, ...options })).toThrow(message);
  });
});
