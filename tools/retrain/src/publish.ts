import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { GATE_REPORT_FILE, encodeGateReport } from '@reputation-monitor/contracts';
import { HubConnection } from '@reputation-monitor/dataset-store';
import { uploadModelVersion } from '@reputation-monitor/model-registry';
import { GateReport, gateSummary } from './gate';
import { modelCard } from './model-card';

export interface PublishOptions {
  candidateDir: string;
  /** The gate's JSON report for this candidate. */
  report: string;
  /** Hub model repository, owner/name. */
  repo: string;
  /** Default: `candidate-<version>`. */
  branch?: string;
  hub: HubConnection;
}

export class PublishError extends Error {
  override readonly name = 'PublishError';
}

/**
 * Uploads a gated candidate to a branch of its own in the Hub model repository, with its model card and gate
 * report, in one commit. A candidate whose gate did not pass is never uploaded.
 */
export async function publishCandidate(
  options: PublishOptions,
): Promise<{ commit: string; branch: string; files: string[] }> {
  const dir = resolve(options.candidateDir);
  let report: GateReport;
  try {
    report = JSON.parse(await readFile(options.report, 'utf8')) as GateReport;
  } catch (error) {
    throw new PublishError(`cannot read the gate report ${options.report}: ${(error as Error).message}`);
  }
  if (report.verdict !== 'pass')
    throw new PublishError(`not published: the gate did not pass (${report.reasons[0]})`);
  if (resolve(report.candidate.dir) !== dir)
    throw new PublishError(`the gate report is for ${report.candidate.dir}, not ${dir}`);
  await writeFile(join(dir, GATE_REPORT_FILE), encodeGateReport(report));
  await writeFile(join(dir, 'README.md'), modelCard(report, gateSummary(report)));
  const branch = options.branch ?? `candidate-${report.candidate.version}`;
  return uploadModelVersion({
    endpoint: options.hub.endpoint,
    token: options.hub.token,
    repo: options.repo,
    branch,
    dir,
    message: `Candidate ${report.candidate.version}: gate passed (holdout macro recall ${report.sets.holdout.champion.macroRecall.toFixed(3)} -> ${report.sets.holdout.candidate.macroRecall.toFixed(3)})`,
  });
}
