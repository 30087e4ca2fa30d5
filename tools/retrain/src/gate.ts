import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { GateReportHeader, SENTIMENT_LABELS, materializeExamples } from '@reputation-monitor/contracts';
import {
  HubConnection,
  loadGoldenSet,
  openDatasetStore,
  parseSnapshotLocation,
} from '@reputation-monitor/dataset-store';
import {
  BootstrapInterval,
  McNemarResult,
  PairedTestResult,
  mcnemarExactTest,
  pairedBootstrapInterval,
  pairedMacroRecallTest,
  qualityMetrics,
} from '@reputation-monitor/drift-stats';
import { ModelVariant, openModelDirectory } from '@reputation-monitor/model-runtime';
import { scoreTexts } from './model-scoring';
import { splitDataset } from './split';
import { RetrainProvenance, fileSha256, goldenDigest } from './train';

export const DEFAULT_MIN_GAIN = 0.01;
export const DEFAULT_MAX_P = 0.01;
export const DEFAULT_MAX_REGRESSION = 0.01;

export interface GateOptions {
  championDir: string;
  candidateDir: string;
  /** The snapshot the candidate was trained on; default: the one its provenance names. */
  dataset?: string;
  /** The golden set (JSONL or texts,labels): never trained on. */
  golden: string;
  goldenLimit?: number;
  hub: HubConnection;
  /** Least macro-recall gain on the holdout. */
  minGain?: number;
  /** Largest p-value of the paired permutation test on the holdout. */
  maxP?: number;
  /** Largest macro-recall loss allowed on the golden set. */
  maxRegression?: number;
  permutations?: number;
  seed?: number;
  variant?: ModelVariant;
  intraOpThreads?: number;
  log?: (line: string) => void;
}

export interface Quality {
  accuracy: number;
  macroRecall: number;
  macroF1: number;
}

export interface SetComparison {
  count: number;
  champion: Quality;
  candidate: Quality;
  /** Candidate minus champion macro recall. */
  difference: number;
  /** The gated test: paired sign-flip permutation test on the macro-recall difference (candidate better). */
  test: PairedTestResult;
  interval: BootstrapInterval;
  /** Reported beside, never gated on: it asks whether accuracy differs, another question. */
  mcnemar: McNemarResult;
  bySource: Record<string, { count: number; champion: Quality; candidate: Quality }>;
}

export interface GateReport extends GateReportHeader {
  variant: ModelVariant;
  champion: { dir: string; version: string };
  candidate: { dir: string; version: string; provenance: RetrainProvenance | null };
  dataset: { location: string; holdoutDigest: string; goldenOverlapInTraining: number };
  sets: { golden: SetComparison; holdout: SetComparison };
}

export class GateError extends Error {
  override readonly name = 'GateError';
}

const f3 = (value: number) => value.toFixed(3);

/**
 * Champion against candidate on the same examples: (a) the golden set, never trained on, and (b) the
 * newest share of the snapshot, held out from training. The candidate passes only if it beats the
 * champion on (b) by at least `minGain` macro recall with a paired permutation p below `maxP`, and loses
 * no more than `maxRegression` on (a). Both models run through the worker's own tokenizer and runtime.
 */
export async function runGate(options: GateOptions): Promise<GateReport> {
  const log = options.log ?? ((line: string) => process.stderr.write(`[gate] ${line}\n`));
  const minGain = options.minGain ?? DEFAULT_MIN_GAIN;
  const maxP = options.maxP ?? DEFAULT_MAX_P;
  const maxRegression = options.maxRegression ?? DEFAULT_MAX_REGRESSION;
  const permutations = options.permutations ?? 10_000;
  const seed = options.seed ?? 1;
  const variant = options.variant ?? 'fp32';
  const championDir = resolve(options.championDir);
  const candidateDir = resolve(options.candidateDir);
  const provenance = await readProvenance(candidateDir);

  const datasetLocation = options.dataset ?? provenance?.dataset.location;
  if (!datasetLocation)
    throw new GateError(`${candidateDir} names no dataset snapshot (no retrain provenance): pass --dataset`);
  const location = parseSnapshotLocation(datasetLocation);
  const snapshot = await openDatasetStore(location.store, options.hub).read(location.revision);
  const { examples } = materializeExamples(snapshot.records);
  const golden = loadGoldenSet(options.golden, options.goldenLimit ?? Infinity);
  const goldenTexts = new Set(golden.map((item) => item.text));
  const split = splitDataset(examples, {
    holdoutShare: provenance?.dataset.holdoutShare,
    seed: provenance?.seed ?? 1,
  });
  const holdoutIds = new Set(split.holdout.map((example) => example.id));
  const goldenOverlapInTraining = examples.filter(
    (example) => !holdoutIds.has(example.id) && goldenTexts.has(example.text),
  ).length;

  const score = async (dir: string, texts: string[], label: string) =>
    (await scoreTexts(dir, texts, { variant, label, intraOpThreads: options.intraOpThreads })).labels;
  const goldenTruth = Int32Array.from(golden, (item) => SENTIMENT_LABELS.indexOf(item.label));
  const holdoutTruth = Int32Array.from(split.holdout, (example) => SENTIMENT_LABELS.indexOf(example.label));
  const goldenSources = golden.map(() => 'golden');
  const holdoutSources = split.holdout.map((example) => example.source || '(none)');
  const compare = async (name: string, texts: string[], truth: Int32Array, sources: string[]) => {
    const champion = await score(championDir, texts, `${name}: champion`);
    const candidate = await score(candidateDir, texts, `${name}: candidate`);
    return compareSets({ truth, champion, candidate }, sources, { permutations, seed });
  };
  const sets = {
    golden: await compare(
      'golden',
      golden.map((item) => item.text),
      goldenTruth,
      goldenSources,
    ),
    holdout: await compare(
      'holdout',
      split.holdout.map((example) => example.text),
      holdoutTruth,
      holdoutSources,
    ),
  };

  const failed: string[] = [];
  const passed: string[] = [];
  const rule = (ok: boolean, sentence: string) => (ok ? passed : failed).push(sentence);
  const { holdout } = sets;
  rule(
    holdout.difference >= minGain,
    `holdout macro recall ${f3(holdout.champion.macroRecall)} -> ${f3(holdout.candidate.macroRecall)} ` +
      `(${signed(holdout.difference)}; at least +${minGain} needed)`,
  );
  rule(
    holdout.test.pValue < maxP,
    `paired permutation test on the holdout: p = ${holdout.test.pValue.toPrecision(3)} (below ${maxP} needed)`,
  );
  rule(
    sets.golden.difference >= -maxRegression,
    `golden-set macro recall ${f3(sets.golden.champion.macroRecall)} -> ${f3(sets.golden.candidate.macroRecall)} ` +
      `(${signed(sets.golden.difference)}; a loss of at most ${maxRegression} allowed)`,
  );
  // Without provenance nothing says what the candidate was trained on: it could have seen the holdout.
  rule(
    provenance !== null && provenance.dataset.holdoutDigest === split.holdoutDigest,
    provenance === null
      ? `${candidateDir} has no retrain provenance: nothing shows it was not trained on the holdout`
      : provenance.dataset.holdoutDigest === split.holdoutDigest
        ? 'the holdout is the one the candidate was trained without'
        : 'the holdout differs from the one the candidate was trained without (another snapshot or split)',
  );
  // Golden texts in the training part are fine only if the trainer left out exactly this golden set.
  const sameGolden = provenance?.dataset.goldenSha256 === goldenDigest(goldenTexts);
  rule(
    goldenOverlapInTraining === 0 || sameGolden,
    goldenOverlapInTraining === 0
      ? 'no golden-set text is in the training part of the snapshot'
      : `${goldenOverlapInTraining} golden-set texts are in the training part of the snapshot` +
          (sameGolden
            ? ' and were left out of training'
            : ' and the trainer did not leave out this golden set (retrain with --golden)'),
  );
  const report: GateReport = {
    verdict: failed.length === 0 ? 'pass' : 'fail',
    reasons: [...failed, ...passed],
    createdAt: new Date().toISOString(),
    thresholds: { minGain, maxP, maxRegression, permutations, seed },
    variant,
    champion: { dir: championDir, version: await versionOf(championDir, variant) },
    candidate: { dir: candidateDir, version: await versionOf(candidateDir, variant), provenance },
    dataset: { location: snapshot.ref.location, holdoutDigest: split.holdoutDigest, goldenOverlapInTraining },
    sets,
  };
  log(`${report.verdict === 'pass' ? 'PASS' : 'FAIL'}: ${(failed.length > 0 ? failed : passed).join('; ')}`);
  return report;
}

/** Metrics, the gated test and what is reported beside it, for one set of paired predictions. */
export function compareSets(
  input: { truth: Int32Array; champion: Int32Array; candidate: Int32Array },
  sources: readonly string[],
  options: { permutations: number; seed: number },
): SetComparison {
  if (input.truth.length === 0) throw new GateError('a comparison set is empty');
  const quality = (predicted: Int32Array, rows?: number[]): Quality => {
    const indices = rows ?? Array.from(input.truth, (_, index) => index);
    const metrics = qualityMetrics(
      indices.map((row) => ({ truth: input.truth[row], predicted: predicted[row] })),
    );
    return { accuracy: metrics.accuracy, macroRecall: metrics.macroRecall, macroF1: metrics.macroF1 };
  };
  const bySourceRows = new Map<string, number[]>();
  sources.forEach((source, row) => bySourceRows.set(source, [...(bySourceRows.get(source) ?? []), row]));
  const champion = quality(input.champion);
  const candidate = quality(input.candidate);
  return {
    count: input.truth.length,
    champion,
    candidate,
    difference: candidate.macroRecall - champion.macroRecall,
    test: pairedMacroRecallTest(input, { permutations: options.permutations, seed: options.seed }),
    interval: pairedBootstrapInterval(input, { seed: options.seed }),
    mcnemar: mcnemarExactTest(input),
    bySource: Object.fromEntries(
      [...bySourceRows].map(([source, rows]) => [
        source,
        {
          count: rows.length,
          champion: quality(input.champion, rows),
          candidate: quality(input.candidate, rows),
        },
      ]),
    ),
  };
}

/** The gate's verdict as Markdown, for GITHUB_STEP_SUMMARY and the model card. */
export function gateSummary(report: GateReport): string {
  const lines = [
    `### Evaluation gate: ${report.verdict === 'pass' ? 'passed' : 'not passed'}`,
    '',
    ...report.reasons.map((reason) => `- ${reason}`),
    '',
    `Champion \`${report.champion.version}\`, candidate \`${report.candidate.version}\` (${report.variant}); ` +
      `snapshot \`${report.dataset.location}\`.`,
    '',
    '| set | source | n | champion acc. | candidate acc. | champion macro recall | candidate macro recall | champion macro F1 | candidate macro F1 |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const [name, set] of Object.entries(report.sets)) {
    const row = (source: string, n: number, a: Quality, b: Quality) =>
      `| ${name} | ${source} | ${n} | ${f3(a.accuracy)} | ${f3(b.accuracy)} | ${f3(a.macroRecall)} | ${f3(b.macroRecall)} | ${f3(a.macroF1)} | ${f3(b.macroF1)} |`;
    lines.push(row('all', set.count, set.champion, set.candidate));
    for (const [source, part] of Object.entries(set.bySource)) {
      if (Object.keys(set.bySource).length > 1 || source !== 'golden')
        lines.push(row(source, part.count, part.champion, part.candidate));
    }
  }
  lines.push(
    '',
    '| set | macro-recall difference | 95 % interval | permutation p | McNemar p (accuracy, not gated) |',
  );
  lines.push('| --- | ---: | --- | ---: | ---: |');
  for (const [name, set] of Object.entries(report.sets)) {
    lines.push(
      `| ${name} | ${signed(set.difference)} | [${signed(set.interval.lower)}, ${signed(set.interval.upper)}] | ` +
        `${set.test.pValue.toPrecision(3)} | ${set.mcnemar.pValue.toPrecision(3)} |`,
    );
  }
  return lines.join('\n') + '\n';
}

function signed(value: number): string {
  return `${value >= 0 ? '+' : ''}${value.toFixed(3)}`;
}

async function readProvenance(dir: string): Promise<RetrainProvenance | null> {
  try {
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as {
      retrain?: RetrainProvenance;
    };
    return config.retrain ?? null;
  } catch (error) {
    throw new GateError(`cannot read ${join(dir, 'config.json')}: ${(error as Error).message}`);
  }
}

/** The version the worker reports for this directory and variant. */
async function versionOf(dir: string, variant: ModelVariant): Promise<string> {
  const directory = await openModelDirectory(dir, variant);
  return `${variant}-${(await fileSha256(directory.modelPath)).slice(0, 12)}`;
}
