import { createHash } from 'node:crypto';
import { LabelledExample, SENTIMENT_LABELS, SentimentLabel } from '@reputation-monitor/contracts';
import { seededRandom } from '@reputation-monitor/drift-stats';

/** The gate's second test set: the newest share of the snapshot by labelling time, never trained on. */
export const DEFAULT_HOLDOUT_SHARE = 0.2;
/** Share of the training part kept aside for early stopping. */
export const DEFAULT_VALIDATION_SHARE = 0.15;

export interface DatasetSplit {
  /** Older examples, for fitting. */
  train: LabelledExample[];
  /** Part of the older examples, for early stopping only. */
  validation: LabelledExample[];
  /** The newest examples: the gate's test set. */
  holdout: LabelledExample[];
  /** Examples left out because their text is in the golden set (it must never be trained on). */
  excludedGolden: number;
  /** Identifies the holdout exactly (sha256 of its ids in order), so the gate can check it tests the same set. */
  holdoutDigest: string;
  /** Labelling time of the first holdout example (ms); everything at or after it is held out. */
  holdoutFrom: number | null;
}

export class SplitError extends Error {
  override readonly name = 'SplitError';
}

/**
 * Holdout = the newest `holdoutShare` of the examples by labelling time (ties broken by id), so it tests
 * what the model will meet next; the rest is shuffled with `seed` and a stratified `validationShare` of each
 * label goes to validation. Texts of the golden set are dropped from training and validation.
 */
export function splitDataset(
  examples: readonly LabelledExample[],
  options: {
    holdoutShare?: number;
    validationShare?: number;
    seed: number;
    goldenTexts?: ReadonlySet<string>;
  },
): DatasetSplit {
  const holdoutShare = options.holdoutShare ?? DEFAULT_HOLDOUT_SHARE;
  const validationShare = options.validationShare ?? DEFAULT_VALIDATION_SHARE;
  if (!(holdoutShare > 0 && holdoutShare < 1))
    throw new SplitError(`holdout share must be in (0, 1), got ${holdoutShare}`);
  if (!(validationShare > 0 && validationShare < 1))
    throw new SplitError(`validation share must be in (0, 1), got ${validationShare}`);
  if (examples.length === 0) throw new SplitError('the dataset snapshot holds no examples');

  const byTime = [...examples].sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const holdoutCount = Math.max(1, Math.round(byTime.length * holdoutShare));
  const holdout = byTime.slice(byTime.length - holdoutCount);
  const older = byTime.slice(0, byTime.length - holdoutCount);
  const golden = options.goldenTexts ?? new Set<string>();
  const trainable = older.filter((example) => !golden.has(example.text));

  const random = seededRandom(options.seed);
  const train: LabelledExample[] = [];
  const validation: LabelledExample[] = [];
  for (const label of SENTIMENT_LABELS) {
    const ofLabel = trainable.filter((example) => example.label === label);
    shuffle(ofLabel, random);
    const aside = ofLabel.length >= 2 ? Math.max(1, Math.round(ofLabel.length * validationShare)) : 0;
    validation.push(...ofLabel.slice(0, aside));
    train.push(...ofLabel.slice(aside));
  }
  // Back to time order: the fit is full-batch, but a stable order makes runs comparable line by line.
  const chronological = (a: LabelledExample, b: LabelledExample) => a.at - b.at || (a.id < b.id ? -1 : 1);
  train.sort(chronological);
  validation.sort(chronological);

  const labels = new Set(train.map((example) => example.label));
  if (labels.size < 2) {
    throw new SplitError(
      `the training part has ${train.length} examples of ${labels.size === 0 ? 'no label' : `one label only (${[...labels][0]})`}: ` +
        'a classifier needs at least two labels (send more labelled examples)',
    );
  }
  if (validation.length === 0) throw new SplitError('too few examples to keep any aside for early stopping');
  return {
    train,
    validation,
    holdout,
    excludedGolden: older.length - trainable.length,
    holdoutDigest: createHash('sha256')
      .update(holdout.map((example) => example.id).join('\n'))
      .digest('hex'),
    holdoutFrom: holdout[0]?.at ?? null,
  };
}

export function labelIndices(examples: readonly LabelledExample[]): Int32Array {
  return Int32Array.from(examples, (example) => SENTIMENT_LABELS.indexOf(example.label as SentimentLabel));
}

function shuffle<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
}
