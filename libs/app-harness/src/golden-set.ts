import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SENTIMENT_LABELS } from '@reputation-monitor/contracts';

export interface GoldenSetSource {
  /** The read-only test data folder (`../shared/data` beside the repository). */
  sharedData: string;
  split: 'train' | 'val' | 'test';
  /** The first `count` tweets of the split. */
  count: number;
}

/**
 * Writes TweetEval sentiment tweets with their labels as the drift monitor's JSONL golden set
 * (`{"text","label"}` per line) and returns the file's path.
 */
export function writeGoldenSet(file: string, { sharedData, split, count }: GoldenSetSource): string {
  const dir = join(sharedData, 'tweeteval/sentiment');
  const texts = readFileSync(join(dir, `${split}_text.txt`), 'utf8').split('\n');
  const labels = readFileSync(join(dir, `${split}_labels.txt`), 'utf8').split('\n');
  const lines = texts
    .slice(0, count)
    .map((text, i) => JSON.stringify({ text, label: SENTIMENT_LABELS[Number(labels[i])] }));
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/** The read-only test data beside the repository (TweetEval, the real RoBERTa tokenizer files). */
export const SHARED_DATA_DIR = join(__dirname, '../../../../shared/data');

export interface LabelledTweet {
  text: string;
  label: (typeof SENTIMENT_LABELS)[number];
}

/** TweetEval sentiment tweets of one split with their labels, in file order (blank lines dropped). */
export function readTweetEval(split: 'val' | 'test', sharedData = SHARED_DATA_DIR): LabelledTweet[] {
  const dir = join(sharedData, 'tweeteval/sentiment');
  const texts = readFileSync(join(dir, `${split}_text.txt`), 'utf8').split('\n');
  const labels = readFileSync(join(dir, `${split}_labels.txt`), 'utf8').split('\n');
  return labels.flatMap((label, i) => {
    const name = SENTIMENT_LABELS[Number(label)];
    return texts[i]?.trim() && label.trim() !== '' && name ? [{ text: texts[i], label: name }] : [];
  });
}
