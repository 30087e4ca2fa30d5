/**
 * The model's label schema. Index order is fixed by the model head (TweetEval mapping.txt):
 * 0 negative, 1 neutral, 2 positive. Names are compared case-insensitively because the model's
 * config.json has used both "Negative" and "negative".
 */
export const SENTIMENT_LABELS = ['negative', 'neutral', 'positive'] as const;

export type SentimentLabel = (typeof SENTIMENT_LABELS)[number];

export type SentimentScores = Record<SentimentLabel, number>;

export function labelAt(index: number): SentimentLabel {
  const label = SENTIMENT_LABELS[index];
  if (label === undefined) {
    throw new RangeError(`label index ${index} is outside 0..${SENTIMENT_LABELS.length - 1}`);
  }
  return label;
}

/** Accepts a label name (any case) or its index, as a number or numeric string; undefined when it is neither. */
export function parseLabel(value: unknown): SentimentLabel | undefined {
  if (typeof value === 'number') {
    return Number.isInteger(value) ? SENTIMENT_LABELS[value] : undefined;
  }
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return SENTIMENT_LABELS[Number(trimmed)];
  const lower = trimmed.toLowerCase();
  return SENTIMENT_LABELS.find((label) => label === lower);
}

/**
 * Checks a model config's id2label against the schema: every index must be present and name the
 * expected label. Returns a list of problems (empty when the mapping matches).
 */
export function checkId2Label(id2label: Record<string, string> | undefined): string[] {
  if (!id2label || typeof id2label !== 'object') return ['config.json has no id2label'];
  const problems: string[] = [];
  const keys = Object.keys(id2label);
  if (keys.length !== SENTIMENT_LABELS.length) {
    problems.push(`id2label has ${keys.length} labels, expected ${SENTIMENT_LABELS.length}`);
  }
  SENTIMENT_LABELS.forEach((expected, index) => {
    const actual = id2label[String(index)];
    if (actual === undefined) problems.push(`id2label has no entry for index ${index} (${expected})`);
    else if (parseLabel(actual) !== expected) {
      problems.push(`id2label[${index}] is "${actual}", expected "${expected}"`);
    }
  });
  return problems;
}
