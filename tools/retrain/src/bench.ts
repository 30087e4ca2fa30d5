/**
 * `npm run bench:retrain`: the retraining loop's figures on real labelled tweets. Draws `--train` + `--holdout`
 * TweetEval sentiment test tweets (shuffled by `--split-seed`), stores them as one local dataset snapshot whose
 * newest `--holdout` are the gate's holdout, re-fits the head of a synthetic model (`--preset`, generated once
 * under tmp/), gates the candidate against its parent (golden set: the TweetEval validation split) and prints
 * the figures. Several split seeds give the spread: `--split-seed 1,2,3`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { LabelledExample, SENTIMENT_LABELS } from '@reputation-monitor/contracts';
import { DatasetStore, LocalDatasetBackend, newBatchId } from '@reputation-monitor/dataset-store';
import { seededRandom } from '@reputation-monitor/drift-stats';
import { exampleId } from '@reputation-monitor/prediction-store';
import { DEFAULT_FIT } from './defaults';
import { runGate } from './gate';
import { retrain } from './train';

const ROOT = resolve(__dirname, '../../..');
const SHARED = resolve(ROOT, '../shared/data/tweeteval/sentiment');

function tweets(split: 'test' | 'val'): Array<{ text: string; label: (typeof SENTIMENT_LABELS)[number] }> {
  const texts = readFileSync(join(SHARED, `${split}_text.txt`), 'utf8').split('\n');
  const labels = readFileSync(join(SHARED, `${split}_labels.txt`), 'utf8').split('\n');
  return labels
    .map((label, index) => ({ text: texts[index], label: SENTIMENT_LABELS[Number(label)] }))
    .filter((item) => item.text && item.text.trim() !== '' && item.label !== undefined);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      preset: { type: 'string', default: 'small' },
      train: { type: 'string', default: '3000' },
      holdout: { type: 'string', default: '2000' },
      'split-seed': { type: 'string', default: '1' },
      seed: { type: 'string', default: '1' },
      golden: { type: 'string', default: '2000' },
    },
  });
  const trainCount = Number(values.train);
  const holdoutCount = Number(values.holdout);
  const work = join(ROOT, 'tmp/bench-retrain');
  const modelDir = join(work, `synthetic-${values.preset}`);
  if (!existsSync(join(modelDir, 'onnx/model.onnx'))) {
    execFileSync(
      process.execPath,
      [
        join(ROOT, 'node_modules/tsx/dist/cli.mjs'),
        join(ROOT, 'tools/synthetic-model/src/cli.ts'),
        '--preset',
        values.preset,
        '--out',
        modelDir,
      ],
      { stdio: 'inherit' },
    );
  }
  const golden = join(work, 'golden-val.jsonl');
  writeFileSync(
    golden,
    tweets('val')
      .slice(0, Number(values.golden))
      .map((item) => JSON.stringify(item))
      .join('\n') + '\n',
  );
  const pool = tweets('test');
  const rows: string[] = [];
  for (const splitSeed of values['split-seed'].split(',').map(Number)) {
    const random = seededRandom(splitSeed);
    const shuffled = [...pool];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    const chosen = shuffled.slice(0, trainCount + holdoutCount);
    // Labelling times in order, so the last `holdout` are the newest: the gate's holdout.
    const start = Date.UTC(2026, 0, 1);
    const examples: LabelledExample[] = chosen.map((item, index) => ({
      id: exampleId(item.text),
      text: item.text,
      label: item.label,
      source: 'tweeteval',
      origin: 'import',
      at: start + index * 1000,
    }));
    const storeDir = join(work, `store-${splitSeed}`);
    const candidateDir = join(work, `candidate-${splitSeed}`);
    rmSync(storeDir, { recursive: true, force: true });
    rmSync(candidateDir, { recursive: true, force: true });
    mkdirSync(storeDir, { recursive: true });
    const store = new DatasetStore(new LocalDatasetBackend(storeDir));
    const { snapshot } = await store.appendBatch(newBatchId(), examples);
    const started = performance.now();
    const { provenance } = await retrain({
      baseDir: modelDir,
      dataset: snapshot.ref.location,
      outDir: candidateDir,
      hub: { endpoint: 'http://127.0.0.1:9' },
      golden,
      seed: Number(values.seed),
      holdoutShare: holdoutCount / (trainCount + holdoutCount),
      fit: DEFAULT_FIT,
      int8: false,
    });
    const trainSeconds = (performance.now() - started) / 1000;
    const report = await runGate({
      championDir: modelDir,
      candidateDir,
      golden,
      hub: { endpoint: 'http://127.0.0.1:9' },
    });
    const { holdout, golden: goldenSet } = report.sets;
    rows.push(
      `| ${splitSeed} | ${provenance.dataset.train}/${provenance.dataset.validation}/${provenance.dataset.holdout} | ` +
        `${holdout.champion.macroRecall.toFixed(3)} -> ${holdout.candidate.macroRecall.toFixed(3)} | ` +
        `${holdout.test.pValue.toPrecision(2)} | ${holdout.mcnemar.pValue.toPrecision(2)} | ` +
        `${holdout.champion.accuracy.toFixed(3)} -> ${holdout.candidate.accuracy.toFixed(3)} | ` +
        `${goldenSet.champion.macroRecall.toFixed(3)} -> ${goldenSet.candidate.macroRecall.toFixed(3)} | ` +
        `${report.verdict} | ${provenance.training.epochsRun} | ${trainSeconds.toFixed(1)} s |`,
    );
  }
  console.log(
    `\nretrain on the synthetic ${values.preset} model, ${trainCount} training tweets (incl. validation), ` +
      `${holdoutCount} held out, golden set: ${values.golden} TweetEval validation tweets\n`,
  );
  console.log(
    '| split seed | train/val/holdout | holdout macro recall | permutation p | McNemar p | holdout accuracy | golden macro recall | gate | epochs | train time |',
  );
  console.log('| ---: | --- | --- | ---: | ---: | --- | --- | --- | ---: | ---: |');
  for (const row of rows) console.log(row);
}

main().catch((error: Error) => {
  console.error(`[bench:retrain] ${error.message}`);
  process.exit(1);
});
