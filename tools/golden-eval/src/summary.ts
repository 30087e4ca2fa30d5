/**
 * The part of a drift-monitor run report (apps/drift-monitor, `main.js --run-once`) this tool reads: the golden
 * set's quality section. Declared here because tools cannot import an app; the e2e test runs the real app.
 */
export interface GoldenQuality {
  status: 'measured' | 'no_samples' | 'disabled' | 'failed';
  modelVersion: string | null;
  count: number;
  accuracy?: number;
  macroRecall?: number;
  macroF1?: number;
  perClass?: Record<string, { precision: number; recall: number; f1: number; support: number }>;
  confusion?: number[][];
  durationMs?: number;
  error?: string;
}

export interface RunReportLike {
  id: string;
  quality: { golden: GoldenQuality };
}

export interface Verdict {
  ok: boolean;
  /** Why the evaluation does not pass, one line each. */
  problems: string[];
}

/** Passes when the golden set was measured and, if a floor is given, its macro recall reaches it. */
export function judge(report: RunReportLike, minMacroRecall?: number): Verdict {
  const golden = report.quality.golden;
  if (golden.status !== 'measured') {
    return { ok: false, problems: [`golden set ${golden.status}${golden.error ? `: ${golden.error}` : ''}`] };
  }
  if (minMacroRecall !== undefined && (golden.macroRecall ?? 0) < minMacroRecall) {
    return {
      ok: false,
      problems: [`macro recall ${fixed(golden.macroRecall)} is below the floor ${fixed(minMacroRecall)}`],
    };
  }
  return { ok: true, problems: [] };
}

const fixed = (value: number | undefined) => (value === undefined ? 'n/a' : value.toFixed(4));

/** A Markdown summary (also what the retrain workflow appends to its job summary). */
export function summarize(report: RunReportLike, labels: readonly string[]): string {
  const golden = report.quality.golden;
  const lines = [
    `### Golden-set evaluation`,
    '',
    `report \`${report.id}\`, model version \`${golden.modelVersion ?? 'unknown'}\`, ${golden.count} examples` +
      (golden.durationMs === undefined ? '' : ` in ${(golden.durationMs / 1000).toFixed(1)} s`),
    '',
  ];
  if (golden.status !== 'measured') {
    lines.push(`not measured: ${golden.status}${golden.error ? ` (${golden.error})` : ''}`);
    return lines.join('\n') + '\n';
  }
  lines.push(
    '| metric | value |',
    '| --- | --- |',
    `| accuracy | ${fixed(golden.accuracy)} |`,
    `| macro recall (TweetEval's metric) | ${fixed(golden.macroRecall)} |`,
    `| macro F1 | ${fixed(golden.macroF1)} |`,
    '',
  );
  if (golden.perClass) {
    lines.push('| class | precision | recall | F1 | support |', '| --- | --- | --- | --- | --- |');
    for (const label of labels) {
      const row = golden.perClass[label];
      if (row)
        lines.push(
          `| ${label} | ${fixed(row.precision)} | ${fixed(row.recall)} | ${fixed(row.f1)} | ${row.support} |`,
        );
    }
    lines.push('');
  }
  if (golden.confusion) {
    lines.push(
      `| true \\ predicted | ${labels.join(' | ')} |`,
      `| --- | ${labels.map(() => '---').join(' | ')} |`,
      ...golden.confusion.map((row, i) => `| ${labels[i]} | ${row.join(' | ')} |`),
      '',
    );
  }
  return lines.join('\n');
}
