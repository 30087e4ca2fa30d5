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
