/**
 * The retraining commands, as the retrain workflow and an operator run them:
 *   npm run retrain -- --base <model dir> --dataset <snapshot> --out <dir>     (train a candidate)
 *   npm run gate -- --champion <dir> --candidate <dir> --golden <file>          (evaluation gate)
 *   npm run model:publish -- --candidate <dir> --report <gate.json> --repo <owner/name>
 *   npm run dataset:delete -- --store <location> --id <example id> --reason <why>   (personal data)
 * The Hub is reached at HF_ENDPOINT with HF_TOKEN (environment only: a token on a command line leaks into
 * process listings). Exit codes: 0 done (gate: passed), 1 error, 3 the gate did not pass.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { redisSettingsFromEnv } from '@reputation-monitor/config';
import { connectRedis } from '@reputation-monitor/redis-connection';
import {
  DEFAULT_QUEUE_PREFIX,
  EXAMPLE_ID_PATTERN,
  GATE_REPORT_FILE,
  encodeGateReport,
} from '@reputation-monitor/contracts';
import { HubConnection, openDatasetStore, parseSnapshotLocation } from '@reputation-monitor/dataset-store';
import { ExampleBuffer, exampleId } from '@reputation-monitor/prediction-store';
import { DEFAULT_MAX_P, DEFAULT_MAX_REGRESSION, DEFAULT_MIN_GAIN, gateSummary, runGate } from './gate';
import { DEFAULT_FIT } from './defaults';
import { publishCandidate } from './publish';
import { retrain } from './train';

export const GATE_NOT_PASSED_EXIT = 3;

const USAGE = {
  train: `usage: npm run retrain -- --base <model dir> --dataset <snapshot> --out <dir> [options]
  --dataset <snapshot>      hf://datasets/<owner>/<name>[@<revision>] or <store dir>[@<revision>] (latest without @)
  --golden <file>           golden set (JSONL or texts.txt,labels.txt): its texts are never trained on
  --seed <n>                seed of the validation split and the fit (default 1)
  --holdout <share>         newest share of the snapshot held out for the gate (default 0.2)
  --l2 <x> --learning-rate <x> --max-epochs <n> --patience <n> --class-weights balanced|none
  --no-int8                 do not write onnx/model_quantized.onnx
  --threads <n>             ONNX Runtime intra-op threads (default: all cores)`,
  gate: `usage: npm run gate -- --champion <dir> --candidate <dir> --golden <file> [options]
  --dataset <snapshot>      default: the snapshot the candidate's provenance names
  --golden-limit <n>        first n golden examples
  --min-gain <x>            least holdout macro-recall gain (default ${DEFAULT_MIN_GAIN})
  --max-p <x>               largest paired permutation p on the holdout (default ${DEFAULT_MAX_P})
  --max-regression <x>      largest golden-set macro-recall loss (default ${DEFAULT_MAX_REGRESSION})
  --permutations <n>        (default 10000)   --variant fp32|int8 (default fp32)
  --out <file>              report JSON (default reports/gate-report.json)
The report is also written into the candidate directory (gate-report.json), where promotion looks for it.
GITHUB_STEP_SUMMARY, when set, gets the Markdown summary appended. Exit 3 when the gate does not pass.`,
  'delete-examples': `usage: npm run dataset:delete -- --store <location> (--id <example id> | --text <text>)... --reason <why>
  [--wait-seconds <n>]
Removes labelled examples from every shard of the dataset store (each such shard gets a new version without
them; the manifest records the ids and the reason, never the text) and from the Redis buffer (REDIS_URL, or
REDIS_SENTINELS and REDIS_SENTINEL_NAME as the apps read them; QUEUE_PREFIX). An id is the first 32 hex digits
of the sha256 of the text; --text computes it. An export running meanwhile is waited for (up to --wait-seconds,
default 120) and the store cleaned again after it; exit 1 when it was still running (run the command again).`,
  publish: `usage: npm run model:publish -- --candidate <dir> --report <gate report> --repo <owner/name> [--branch <name>]
Uploads a candidate whose gate passed to a branch of its own (default candidate-<version>) with its model card.`,
};

type Command = keyof typeof USAGE;

class UsageError extends Error {}

function number(value: string | undefined, flag: string, check: (x: number) => boolean): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed) || !check(parsed))
    throw new UsageError(`${flag} got "${value}", which is out of range`);
  return parsed;
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new UsageError(`${flag} is required`);
  return value;
}

function hubFromEnv(): HubConnection {
  const endpoint = process.env.HF_ENDPOINT?.trim() || 'https://huggingface.co';
  const token = process.env.HF_TOKEN?.trim() || undefined;
  return { endpoint, ...(token && { token }) };
}

async function train(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      base: { type: 'string' },
      dataset: { type: 'string' },
      out: { type: 'string' },
      golden: { type: 'string' },
      seed: { type: 'string', default: '1' },
      holdout: { type: 'string' },
      l2: { type: 'string' },
      'learning-rate': { type: 'string' },
      'max-epochs': { type: 'string' },
      patience: { type: 'string' },
      'class-weights': { type: 'string', default: DEFAULT_FIT.classWeights },
      'no-int8': { type: 'boolean', default: false },
      threads: { type: 'string' },
    },
  });
  const classWeights = values['class-weights'];
  if (classWeights !== 'balanced' && classWeights !== 'none')
    throw new UsageError(`--class-weights must be balanced or none, got "${classWeights}"`);
  const positive = (x: number) => x > 0;
  const count = (x: number) => Number.isInteger(x) && x >= 1;
  await retrain({
    baseDir: required(values.base, '--base'),
    dataset: required(values.dataset, '--dataset'),
    outDir: required(values.out, '--out'),
    hub: hubFromEnv(),
    golden: values.golden,
    seed: number(values.seed, '--seed', Number.isSafeInteger)!,
    holdoutShare: number(values.holdout, '--holdout', (x) => x > 0 && x < 1),
    fit: {
      l2: number(values.l2, '--l2', (x) => x >= 0) ?? DEFAULT_FIT.l2,
      learningRate: number(values['learning-rate'], '--learning-rate', positive) ?? DEFAULT_FIT.learningRate,
      maxEpochs: number(values['max-epochs'], '--max-epochs', count) ?? DEFAULT_FIT.maxEpochs,
      patience: number(values.patience, '--patience', count) ?? DEFAULT_FIT.patience,
      classWeights,
    },
    int8: !values['no-int8'],
    intraOpThreads: number(values.threads, '--threads', (x) => Number.isInteger(x) && x >= 0),
  });
  return 0;
}

async function gate(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      champion: { type: 'string' },
      candidate: { type: 'string' },
      dataset: { type: 'string' },
      golden: { type: 'string' },
      'golden-limit': { type: 'string' },
      'min-gain': { type: 'string' },
      'max-p': { type: 'string' },
      'max-regression': { type: 'string' },
      permutations: { type: 'string' },
      variant: { type: 'string', default: 'fp32' },
      out: { type: 'string', default: 'reports/gate-report.json' },
      threads: { type: 'string' },
    },
  });
  if (values.variant !== 'fp32' && values.variant !== 'int8')
    throw new UsageError(`--variant must be fp32 or int8, got "${values.variant}"`);
  const share = (x: number) => x >= 0 && x <= 1;
  const report = await runGate({
    championDir: required(values.champion, '--champion'),
    candidateDir: required(values.candidate, '--candidate'),
    dataset: values.dataset,
    golden: required(values.golden, '--golden'),
    goldenLimit: number(values['golden-limit'], '--golden-limit', (x) => Number.isInteger(x) && x >= 1),
    hub: hubFromEnv(),
    minGain: number(values['min-gain'], '--min-gain', (x) => x >= -1 && x <= 1),
    maxP: number(values['max-p'], '--max-p', share),
    maxRegression: number(values['max-regression'], '--max-regression', share),
    permutations: number(values.permutations, '--permutations', (x) => Number.isInteger(x) && x >= 100),
    variant: values.variant,
    intraOpThreads: number(values.threads, '--threads', (x) => Number.isInteger(x) && x >= 0),
  });
  const out = resolve(values.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, encodeGateReport(report));
  // The candidate carries its verdict: a local model registry reads it there, promotion checks it.
  writeFileSync(resolve(report.candidate.dir, GATE_REPORT_FILE), encodeGateReport(report));
  const summary = gateSummary(report);
  process.stdout.write(summary);
  if (process.env.GITHUB_STEP_SUMMARY) appendFileSync(process.env.GITHUB_STEP_SUMMARY, summary);
  return report.verdict === 'pass' ? 0 : GATE_NOT_PASSED_EXIT;
}

async function publish(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      candidate: { type: 'string' },
      report: { type: 'string' },
      repo: { type: 'string' },
      branch: { type: 'string' },
    },
  });
  const result = await publishCandidate({
    candidateDir: required(values.candidate, '--candidate'),
    report: required(values.report, '--report'),
    repo: required(values.repo, '--repo'),
    branch: values.branch,
    hub: hubFromEnv(),
  });
  process.stdout.write(
    `candidate ready: ${values.repo}@${result.branch} (commit ${result.commit}, ${result.files.length} files)\n`,
  );
  return 0;
}

async function deleteExamples(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      store: { type: 'string' },
      id: { type: 'string', multiple: true, default: [] },
      text: { type: 'string', multiple: true, default: [] },
      reason: { type: 'string' },
      'wait-seconds': { type: 'string', default: '120' },
    },
  });
  const ids = [...values.id, ...values.text.map((text) => exampleId(text))];
  const waitSeconds = Number(values['wait-seconds']);
  if (!Number.isInteger(waitSeconds) || waitSeconds < 0 || waitSeconds > 3_600)
    throw new UsageError('--wait-seconds must be a whole number of seconds, 0-3600');
  if (ids.length === 0) throw new UsageError('give at least one --id or --text');
  const bad = ids.find((id) => !EXAMPLE_ID_PATTERN.test(id));
  if (bad) throw new UsageError(`--id "${bad}" is not an example id (32 lower-case hex digits)`);
  const reason = required(values.reason, '--reason');
  const location = parseSnapshotLocation(required(values.store, '--store'));
  if (location.revision !== undefined)
    throw new UsageError('--store names a store, not a snapshot: leave out @revision');
  const store = openDatasetStore(location.store, hubFromEnv());
  const redis = connectRedis(redisSettingsFromEnv(), { maxRetriesPerRequest: 2 });
  try {
    const buffer = new ExampleBuffer(redis, {
      prefix: process.env.QUEUE_PREFIX ?? DEFAULT_QUEUE_PREFIX,
      ttlSeconds: 3_600,
    });
    // Redis first, then the store; an export that had already taken the example may append it after the
    // store was cleaned, so wait for a running export to end and clean the store again.
    const buffered = await buffer.delete(ids);
    let { snapshot, removed } = await store.deleteExamples(ids, reason);
    const deadline = Date.now() + waitSeconds * 1_000;
    let exporting = await buffer.exportInProgress();
    while (exporting && Date.now() < deadline) {
      await new Promise((done) => setTimeout(done, 500));
      exporting = await buffer.exportInProgress();
    }
    const again = await store.deleteExamples(ids, reason);
    if (again.removed > 0)
      ({ snapshot, removed } = { snapshot: again.snapshot, removed: removed + again.removed });
    process.stdout.write(
      `removed ${removed} stored record(s)` +
        (snapshot ? ` (new snapshot ${snapshot.ref.location})` : '') +
        ` and ${buffered} waiting in Redis\n`,
    );
    if (exporting) {
      // That export may have read these examples before they were removed and store them after this run.
      process.stderr.write(
        `an export still running after ${waitSeconds} s may store these examples again: ` +
          'run the same command once it has ended (the drift monitor logs each export)\n',
      );
      return 1;
    }
  } finally {
    redis.disconnect();
  }
  return 0;
}

const COMMANDS: Record<Command, (args: string[]) => Promise<number>> = {
  train,
  gate,
  publish,
  'delete-examples': deleteExamples,
};

async function main(): Promise<void> {
  const [command, ...args] = process.argv.slice(2);
  if (!command || !(command in COMMANDS)) {
    console.error(
      `usage: retrain <${Object.keys(COMMANDS).join('|')}> [options]\n\n${Object.values(USAGE).join('\n\n')}`,
    );
    process.exit(1);
  }
  if (args.includes('--help')) {
    console.log(USAGE[command as Command]);
    process.exit(0);
  }
  try {
    process.exit(await COMMANDS[command as Command](args));
  } catch (error) {
    const usage =
      error instanceof UsageError || (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS');
    console.error(`[${command}] ${(error as Error).message}${usage ? `\n${USAGE[command as Command]}` : ''}`);
    process.exit(1);
  }
}

main();
