import { readFileSync } from 'node:fs';
import {
  DEFAULT_MAX_TEXT_CHARS,
  SentimentLabel,
  parseLabel,
  textProblem,
} from '@reputation-monitor/contracts';

/**
 * Golden sets: labelled texts that are never trained on, read by the drift monitor (GOLDEN_SET_PATH) and
 * by the retraining gate (--golden), in the same two layouts.
 */

/** One labelled text of the golden set. */
export interface GoldenItem {
  text: string;
  label: SentimentLabel;
}

/** Thrown at boot for a golden set that cannot be read; names the file and every bad line (up to 10). */
export class GoldenSetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GoldenSetError';
  }
}

const MAX_LISTED_PROBLEMS = 10;

/**
 * Loads GOLDEN_SET_PATH: a JSONL file with one `{"text": ..., "label": ...}` per line (label as a name in
 * any case or its index), or `texts.txt,labels.txt` (TweetEval's layout: one text per line, the label
 * index on the same line of the other file). Keeps the first `limit` items.
 */
export function loadGoldenSet(spec: string, limit: number): GoldenItem[] {
  const paths = spec.split(',').map((part) => part.trim());
  if (paths.length === 1) return parseGoldenJsonl(read(paths[0]), paths[0], limit);
  if (paths.length === 2) return parseGoldenPair(read(paths[0]), read(paths[1]), paths, limit);
  throw new GoldenSetError(
    `GOLDEN_SET_PATH must be one JSONL file or "texts.txt,labels.txt", got ${paths.length} paths`,
  );
}

export function parseGoldenJsonl(content: string, name: string, limit = Infinity): GoldenItem[] {
  const items: GoldenItem[] = [];
  const problems: string[] = [];
  lines(content).forEach(({ line, number }) => {
    if (items.length >= limit || line.trim() === '') return;
    let value: { text?: unknown; label?: unknown };
    try {
      value = JSON.parse(line);
    } catch {
      problems.push(`line ${number}: not JSON`);
      return;
    }
    const item = goldenItem(value?.text, value?.label);
    if (typeof item === 'string') problems.push(`line ${number}: ${item}`);
    else items.push(item);
  });
  return checked(items, problems, name);
}

export function parseGoldenPair(
  texts: string,
  labels: string,
  names: readonly string[],
  limit = Infinity,
): GoldenItem[] {
  const textLines = lines(texts);
  const labelLines = lines(labels);
  if (textLines.length !== labelLines.length) {
    throw new GoldenSetError(
      `golden set ${names.join(',')}: ${textLines.length} texts but ${labelLines.length} labels`,
    );
  }
  const items: GoldenItem[] = [];
  const problems: string[] = [];
  for (let i = 0; i < textLines.length && items.length < limit; i++) {
    const item = goldenItem(textLines[i].line, labelLines[i].line.trim());
    if (typeof item === 'string') problems.push(`line ${textLines[i].number}: ${item}`);
    else items.push(item);
  }
  return checked(items, problems, names.join(','));
}

function goldenItem(text: unknown, label: unknown): GoldenItem | string {
  // The producer client applies the same rule; a text it would refuse must fail here, at boot.
  const problem = textProblem(text, DEFAULT_MAX_TEXT_CHARS);
  if (problem) return `text ${problem}`;
  const parsed = parseLabel(label);
  if (!parsed) return `label ${JSON.stringify(label)} is not negative, neutral, positive or 0, 1, 2`;
  return { text: text as string, label: parsed };
}

function lines(content: string): Array<{ line: string; number: number }> {
  const all = content.split(/\r?\n/).map((line, index) => ({ line, number: index + 1 }));
  if (all.length > 0 && all[all.length - 1].line === '') all.pop();
  return all;
}

function checked(items: GoldenItem[], problems: string[], name: string): GoldenItem[] {
  if (problems.length > 0) {
    const listed = problems.slice(0, MAX_LISTED_PROBLEMS);
    const more = problems.length > listed.length ? `\n  - … and ${problems.length - listed.length} more` : '';
    throw new GoldenSetError(`golden set ${name} has bad lines:\n  - ${listed.join('\n  - ')}${more}`);
  }
  if (items.length === 0) throw new GoldenSetError(`golden set ${name} is empty`);
  return items;
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new GoldenSetError(`cannot read golden set file ${path}: ${(error as Error).message}`);
  }
}
