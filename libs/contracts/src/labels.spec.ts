import { SENTIMENT_LABELS, checkId2Label, labelAt, parseLabel } from './labels';

describe('label schema', () => {
  it('keeps the model head order', () => {
    expect(SENTIMENT_LABELS).toEqual(['negative', 'neutral', 'positive']);
    expect(labelAt(0)).toBe('negative');
    expect(labelAt(2)).toBe('positive');
    expect(() => labelAt(3)).toThrow(RangeError);
  });

  it('parses names in any case and indices', () => {
    expect(parseLabel('Negative')).toBe('negative');
    expect(parseLabel(' POSITIVE ')).toBe('positive');
    expect(parseLabel(1)).toBe('neutral');
    expect(parseLabel('2')).toBe('positive');
    expect(parseLabel(3)).toBeUndefined();
    expect(parseLabel(1.5)).toBeUndefined();
    expect(parseLabel('happy')).toBeUndefined();
    expect(parseLabel(null)).toBeUndefined();
  });

  it('accepts both casings of the real config and rejects reordered or generic labels', () => {
    expect(checkId2Label({ 0: 'Negative', 1: 'Neutral', 2: 'Positive' })).toEqual([]);
    expect(checkId2Label({ 0: 'negative', 1: 'neutral', 2: 'positive' })).toEqual([]);
    expect(checkId2Label({ 0: 'positive', 1: 'neutral', 2: 'negative' })).toEqual([
      'id2label[0] is "positive", expected "negative"',
      'id2label[2] is "negative", expected "positive"',
    ]);
    expect(checkId2Label({ 0: 'LABEL_0', 1: 'LABEL_1' })).toEqual([
      'id2label has 2 labels, expected 3',
      'id2label[0] is "LABEL_0", expected "negative"',
      'id2label[1] is "LABEL_1", expected "neutral"',
      'id2label has no entry for index 2 (positive)',
    ]);
    expect(checkId2Label(undefined)).toEqual(['config.json has no id2label']);
  });
});
