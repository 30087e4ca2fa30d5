import { SENTIMENT_LABELS, SentimentLabel, parseLabel } from '@reputation-monitor/contracts';

/** A label as a name (any case) or an index of the schema, as `parseLabel` accepts it. */
export type LabelInput = SentimentLabel | string | number;

export interface LabelPair {
  truth: LabelInput;
  predicted: LabelInput;
}

export interface ClassQuality {
  /** tp / (tp + fp); 0 when the class was never predicted (0/0 is defined as 0). */
  precision: number;
  /** tp / (tp + fn); 0 when the class never occurs in the truth (0/0 is defined as 0). */
  recall: number;
  /** 2·tp / (2·tp + fp + fn), the harmonic mean of precision and recall; 0 when tp = fp = fn = 0. */
  f1: number;
  /** How often the class is the true label. */
  support: number;
  /** How often the class was predicted. */
  predicted: number;
}

export interface QualityMetrics {
  /** Row and column order of `confusion`: the label schema's order. */
  labels: readonly SentimentLabel[];
  /** confusion[t][p]: samples whose true label is labels[t] and predicted label is labels[p]. */
  confusion: number[][];
  count: number;
  /** Share of samples on the diagonal; 0 for no samples. */
  accuracy: number;
  perClass: Record<SentimentLabel, ClassQuality>;
  /**
   * Macro averages are unweighted means over all three schema classes, a class absent from both the
   * truth and the predictions included with its 0 (scikit-learn with labels=[0, 1, 2], zero_division=0).
   */
  macroPrecision: number;
  /** TweetEval's official sentiment metric. */
  macroRecall: number;
  macroF1: number;
}

function labelIndex(value: LabelInput, where: string): number {
  const label = parseLabel(value);
  if (label === undefined)
    throw new RangeError(`${where} is not a sentiment label: ${JSON.stringify(value)}`);
  return SENTIMENT_LABELS.indexOf(label);
}

const ratio = (numerator: number, denominator: number) => (denominator === 0 ? 0 : numerator / denominator);
const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

/** Counts (true, predicted) pairs: rows are true labels, columns predicted labels, in schema order. */
export function confusionMatrix(pairs: Iterable<LabelPair>): number[][] {
  const matrix = SENTIMENT_LABELS.map(() => SENTIMENT_LABELS.map(() => 0));
  let index = 0;
  for (const pair of pairs) {
    matrix[labelIndex(pair.truth, `pairs[${index}].truth`)][
      labelIndex(pair.predicted, `pairs[${index}].predicted`)
    ] += 1;
    index += 1;
  }
  return matrix;
}

/** Metrics of a confusion matrix laid out as `confusionMatrix` returns it. */
export function qualityFromConfusion(confusion: readonly (readonly number[])[]): QualityMetrics {
  const k = SENTIMENT_LABELS.length;
  if (confusion.length !== k || confusion.some((row) => row.length !== k)) {
    throw new RangeError(`confusion matrix must be ${k}×${k}`);
  }
  if (confusion.some((row) => row.some((cell) => !Number.isInteger(cell) || cell < 0))) {
    throw new RangeError('confusion matrix cells must be non-negative integers');
  }
  const matrix = confusion.map((row) => [...row]);
  const count = matrix.reduce((sum, row) => sum + row.reduce((a, b) => a + b, 0), 0);
  const correct = matrix.reduce((sum, row, i) => sum + row[i], 0);
  const perClass = {} as Record<SentimentLabel, ClassQuality>;
  SENTIMENT_LABELS.forEach((label, c) => {
    const tp = matrix[c][c];
    const support = matrix[c].reduce((a, b) => a + b, 0);
    const predicted = matrix.reduce((sum, row) => sum + row[c], 0);
    const fp = predicted - tp;
    const fn = support - tp;
    perClass[label] = {
      precision: ratio(tp, predicted),
      recall: ratio(tp, support),
      f1: ratio(2 * tp, 2 * tp + fp + fn),
      support,
      predicted,
    };
  });
  const classes = SENTIMENT_LABELS.map((label) => perClass[label]);
  return {
    labels: SENTIMENT_LABELS,
    confusion: matrix,
    count,
    accuracy: ratio(correct, count),
    perClass,
    macroPrecision: mean(classes.map((c) => c.precision)),
    macroRecall: mean(classes.map((c) => c.recall)),
    macroF1: mean(classes.map((c) => c.f1)),
  };
}

/** Quality of predictions against true labels. */
export function qualityMetrics(pairs: Iterable<LabelPair>): QualityMetrics {
  return qualityFromConfusion(confusionMatrix(pairs));
}

/** Pairs two aligned label lists (e.g. a gold file and a prediction file). */
export function zipLabels(truth: readonly LabelInput[], predicted: readonly LabelInput[]): LabelPair[] {
  if (truth.length !== predicted.length) {
    throw new RangeError(
      `label lists differ in length (${truth.length} true vs ${predicted.length} predicted)`,
    );
  }
  return truth.map((t, i) => ({ truth: t, predicted: predicted[i] }));
}
