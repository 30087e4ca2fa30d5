import { readFileSync } from 'fs';
import { resolve } from 'path';
import { SENTIMENT_LABELS, SentimentLabel, parseLabel } from '@reputation-monitor/contracts';
import { DriftSample } from './features';
import { DriftReport, buildProfile, compareToProfile } from './profile';

/*
 * Real tweets, no model: the true labels stand in for predictions, with one-hot-ish scores (0.9 on the
 * label, 0.05 on the others, so confidence and entropy are constant and carry no signal here), and the
 * token count is the number of whitespace-separated words + 2 for <s> and </s> (the BPE tokenizer is in
 * the inference scope, which this library may not import, and needs no model either way; BPE counts
 * run higher). No tweet comes near 512 tokens, so nothing is truncated.
 */
const DATA = resolve(__dirname, '../../../../shared/data/tweeteval');

function readLines(relative: string): string[] {
  const lines = readFileSync(resolve(DATA, relative), 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function standIn(label: SentimentLabel, text: string): DriftSample {
  const scores = Object.fromEntries(SENTIMENT_LABELS.map((l) => [l, l === label ? 0.9 : 0.05]));
  const words = text.split(/\s+/).filter((w) => w.length > 0).length;
  return { label, scores: scores as DriftSample['scores'], tokens: words + 2, truncated: false };
}

function loadSentiment(split: 'val' | 'test'): DriftSample[] {
  const texts = readLines(`sentiment/${split}_text.txt`);
  const labels = readLines(`sentiment/${split}_labels.txt`);
  expect(labels).toHaveLength(texts.length);
  return texts.map((text, i) => {
    const label = parseLabel(labels[i]);
    if (!label) throw new Error(`sentiment/${split}_labels.txt line ${i + 1}: bad label ${labels[i]}`);
    return standIn(label, text);
  });
}

/**
 * TweetEval emotion (mapping.txt: 0 anger, 1 joy, 2 optimism, 3 sadness) mapped to a stand-in sentiment:
 * anger and sadness → negative, joy and optimism → positive. Nothing maps to neutral (these tweets were
 * chosen for carrying an emotion), which is part of what makes it a different population.
 */
const EMOTION_TO_SENTIMENT: readonly SentimentLabel[] = ['negative', 'positive', 'positive', 'negative'];

function loadEmotion(): DriftSample[] {
  const texts = readLines('emotion/test_text.txt');
  const labels = readLines('emotion/test_labels.txt');
  expect(labels).toHaveLength(texts.length);
  return texts.map((text, i) => standIn(EMOTION_TO_SENTIMENT[Number(labels[i])], text));
}

const percent = (mix: Record<SentimentLabel, number>) =>
  SENTIMENT_LABELS.map((l) => `${l} ${(100 * mix[l]).toFixed(1)}%`).join(', ');

function describeReport(title: string, report: DriftReport): string {
  const { labelMix, tokens } = report.statistics;
  const lines = [`${title}: ${report.windowCount} window vs ${report.referenceCount} reference predictions`];
  if (!labelMix.insufficient) {
    lines.push(
      `  reference mix: ${percent(labelMix.reference)}`,
      `  window mix:    ${percent(labelMix.window)}`,
    );
    lines.push(
      `  JS distance ${labelMix.value.toFixed(4)}, chi-square ${labelMix.chiSquare.toFixed(1)} (df ${labelMix.degreesOfFreedom}), p ${labelMix.pValue.toExponential(2)}`,
    );
  }
  if (!tokens.insufficient) {
    lines.push(
      `  length (words + 2): mean ${tokens.windowMean.toFixed(2)} vs ${tokens.referenceMean.toFixed(2)}, KS D ${tokens.value.toFixed(3)}, p ${tokens.pValue.toExponential(2)}`,
    );
  }
  lines.push(`  drifted: ${report.drifted}${report.reasons.map((r) => `\n    - ${r}`).join('')}`);
  return lines.join('\n');
}

describe('TweetEval as real drift cases', () => {
  const validation = loadSentiment('val');
  const reference = buildProfile(validation, { modelVersion: 'true-labels-as-predictions' });

  it('flags the class-mix shift between the validation and test splits', () => {
    const test = loadSentiment('test');
    expect([validation.length, test.length]).toEqual([2000, 12_284]);
    const report = compareToProfile(reference, test);
    console.log(describeReport('TweetEval sentiment: validation (reference) vs test (window)', report));
    const labelMix = report.statistics.labelMix;
    if (labelMix.insufficient) throw new Error('insufficient');
    // Counts: validation 312 / 869 / 819 of 2,000; test 3,972 / 5,937 / 2,375 of 12,284.
    expect(reference.labelCounts).toEqual({ negative: 312, neutral: 869, positive: 819 });
    expect(labelMix.window.negative).toBeCloseTo(3972 / 12_284, 12);
    expect(labelMix.value).toBeCloseTo(0.2259337117, 8); // scipy jensenshannon(base=2): 0.22593371171988785
    expect(labelMix.drifted).toBe(true);
    expect(report.drifted).toBe(true);
    expect(report.statistics.confidence.drifted).toBe(false); // constant stand-in scores

    // The same split in the monitor's window size, in file order: every window shows the shift.
    const windows: DriftReport[] = [];
    for (let start = 0; start + 500 <= test.length; start += 500) {
      windows.push(compareToProfile(reference, test.slice(start, start + 500)));
    }
    const flagged = windows.filter((w) => w.statistics.labelMix.drifted).length;
    console.log(`  test split in ${windows.length} windows of 500: label mix flagged in ${flagged}`);
    expect(flagged).toBe(windows.length);
  });

  it('does not flag one half of the validation split against the other', () => {
    const report = compareToProfile(buildProfile(validation.slice(0, 1000)), validation.slice(1000));
    console.log(
      describeReport('TweetEval sentiment: validation 1-1000 (reference) vs 1001-2000 (window)', report),
    );
    expect(report.drifted).toBe(false);
  });

  it('flags emotion tweets, a different population, against the sentiment reference', () => {
    const emotion = loadEmotion();
    expect(emotion).toHaveLength(1421);
    const report = compareToProfile(reference, emotion);
    console.log(
      describeReport('TweetEval emotion test (window, mapped to sentiment) vs sentiment validation', report),
    );
    const labelMix = report.statistics.labelMix;
    if (labelMix.insufficient) throw new Error('insufficient');
    // anger 558 + sadness 382 = 940 negative, joy 358 + optimism 123 = 481 positive, 0 neutral
    expect(labelMix.window).toEqual({ negative: 940 / 1421, neutral: 0, positive: 481 / 1421 });
    expect(labelMix.value).toBeCloseTo(0.5839569186, 8); // scipy jensenshannon(base=2): 0.5839569186442704
    expect(labelMix.drifted).toBe(true);
    expect(report.drifted).toBe(true);
  });
});
