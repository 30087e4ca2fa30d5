/**
 * `npm run demo:loop`: the retraining loop on the stack `npm start` (or `npm run start:demo`) runs, offline.
 * Sends labelled TweetEval tweets to the gateway (POST /v1/examples/batch), asks the drift monitor for a run
 * with a retrain request (POST /v1/runs {"retrain": true}: the examples are exported to the local dataset store
 * and the dispatch is a dry run without GITHUB_TOKEN), then trains a candidate from the served model on that
 * snapshot and gates it against it, into the local model registry (models/registry/candidate-<time>). Calls the
 * gateway with API_KEYS' first key (none on the loopback stack) and the run with an admin key: ADMIN_API_KEY,
 * else ADMIN_API_KEYS' first, else the one `npm start` made (tmp/local-stack/admin-key).
 */
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { GATE_REPORT_FILE, encodeGateReport } from '@reputation-monitor/contracts';
import { LOCAL_ADMIN_KEY_FILE, firstKey, readTweetEval } from '@reputation-monitor/app-harness';
import { DEFAULT_FIT } from './defaults';
import { gateSummary, runGate } from './gate';
import { retrain } from './train';

const ROOT = resolve(__dirname, '../../..');

async function post(url: string, body: unknown, key: string | undefined): Promise<any> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key && { authorization: `Bearer ${key}` }) },
    body: JSON.stringify(body),
  }).catch((error: Error) => {
    throw new Error(`${url} does not answer (${error.message}): start the stack first (npm run start:demo)`);
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${url}: ${response.status} ${text.slice(0, 500)}`);
  return JSON.parse(text);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      gateway: { type: 'string', default: `http://127.0.0.1:${process.env.PORT ?? 3000}` },
      monitor: { type: 'string', default: `http://127.0.0.1:${process.env.DRIFT_MONITOR_PORT ?? 3003}` },
      'model-dir': { type: 'string', default: process.env.MODEL_DIR ?? 'models/synthetic-tiny' },
      examples: { type: 'string', default: '3000' },
    },
  });
  const key = firstKey(process.env.API_KEYS);
  const adminKey =
    process.env.ADMIN_API_KEY ??
    firstKey(process.env.ADMIN_API_KEYS) ??
    (existsSync(LOCAL_ADMIN_KEY_FILE) ? readFileSync(LOCAL_ADMIN_KEY_FILE, 'utf8').trim() : undefined);
  const modelDir = resolve(ROOT, values['model-dir']);
  if (!existsSync(modelDir))
    throw new Error(`${modelDir} does not exist (--model-dir: the model the stack serves)`);

  // The golden set is TweetEval's validation split; the examples come from its test split, never the same texts.
  const tweets = readTweetEval('test').slice(0, Number(values.examples));
  console.log(`[demo:loop] sending ${tweets.length} labelled tweets to ${values.gateway}/v1/examples/batch`);
  let stored = 0;
  for (let start = 0; start < tweets.length; start += 200) {
    const items = tweets.slice(start, start + 200).map((tweet) => ({ ...tweet, source: 'demo' }));
    const { results } = await post(`${values.gateway}/v1/examples/batch`, { items }, key);
    stored += results.filter((result: { status: string }) => result.status !== 'duplicate').length;
  }
  console.log(
    `[demo:loop] ${stored} kept for export; asking the drift monitor for a run with a retrain request`,
  );
  const report = await post(`${values.monitor}/v1/runs`, { retrain: true }, adminKey);
  const snapshot: string | undefined = report.dataset?.snapshot?.location;
  console.log(
    `[demo:loop] export: ${report.dataset?.status}; snapshot ${snapshot ?? 'none'}; retrain request: ` +
      `${report.retrain?.outcome ?? 'none'}${report.retrain?.dryRun ? ' (dry run: GITHUB_TOKEN is unset)' : ''}`,
  );
  if (!snapshot)
    throw new Error(`no snapshot to train on (dataset section: ${JSON.stringify(report.dataset)})`);

  // Candidates go into the local model registry the gateway's admin API and npm run model:promote read.
  const runDir = join(
    ROOT,
    'models/registry',
    `candidate-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}`,
  );
  await mkdir(join(ROOT, 'models/registry'), { recursive: true });
  // The served model as a registry version too, so it can be production in the assignment (and rolled back to).
  const baseline = join(ROOT, 'models/registry', `baseline-${basename(modelDir)}`);
  if (!existsSync(baseline)) await cp(modelDir, baseline, { recursive: true });
  const golden = join(ROOT, 'data', 'golden-val.jsonl');
  await mkdir(join(ROOT, 'data'), { recursive: true });
  await writeFile(
    golden,
    readTweetEval('val')
      .map((tweet) => JSON.stringify(tweet))
      .join('\n') + '\n',
  );
  const candidate = runDir;
  const hub = { endpoint: process.env.HF_ENDPOINT ?? 'https://huggingface.co', token: process.env.HF_TOKEN };
  await retrain({
    baseDir: modelDir,
    dataset: snapshot,
    outDir: candidate,
    hub,
    golden,
    seed: 1,
    fit: DEFAULT_FIT,
  });
  const gate = await runGate({ championDir: modelDir, candidateDir: candidate, golden, hub });
  await writeFile(join(candidate, GATE_REPORT_FILE), encodeGateReport(gate));
  console.log(`\n${gateSummary(gate)}`);
  console.log(
    gate.verdict === 'pass'
      ? [
          `[demo:loop] candidate ready: ${candidate}. The workers follow the assignment in Redis:`,
          `  npm run model:promote -- ${basename(baseline)} --force --reason "what serves today"   (no gate report: forced, recorded)`,
          `  npm run model:candidate -- ${basename(candidate)} --mode shadow --share 1 --reason "try it"`,
          `  npm run model:promote -- ${basename(candidate)} --reason "gate passed, shadow agreed"`,
          `  npm run model:rollback -- --reason "changed my mind"        (npm run model:status shows the workers)`,
        ].join('\n')
      : `[demo:loop] not promoted: ${gate.reasons[0]} (candidate kept in ${candidate})`,
  );
}

main().catch((error: Error) => {
  console.error(`[demo:loop] ${error.message}`);
  process.exit(1);
});
