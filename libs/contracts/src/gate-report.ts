/**
 * The evaluation gate's report: written by `npm run gate` (tools/retrain) beside the candidate and onto its Hub
 * branch as gate-report.json, read by the model registry to decide whether a version may be promoted. The
 * writer's report extends GateReportHeader; the reader parses exactly these fields.
 */
export const GATE_REPORT_FILE = 'gate-report.json';

/** What every gate report holds; tools/retrain adds the per-set figures and the candidate's provenance. */
export interface GateReportHeader {
  verdict: 'pass' | 'fail';
  /** One sentence per rule, failed rules first. */
  reasons: string[];
  createdAt: string;
  thresholds: { minGain: number; maxP: number; maxRegression: number; permutations: number; seed: number };
  champion: { version: string };
  /** `version`: what the worker reports for the candidate's graph (`<variant>-<sha256 prefix>`). */
  candidate: { version: string };
}

/** Pretty JSON with a trailing newline, as the report is stored. */
export function encodeGateReport(report: GateReportHeader): string {
  return JSON.stringify(report, null, 2) + '\n';
}

export interface GateSummary {
  verdict: 'pass' | 'fail';
  reasons: string[];
  /** The version the gate measured (`candidate.version` of the report). */
  candidateVersion: string;
  createdAt: string;
  /** The rules it was judged by; null in reports that do not say. */
  thresholds: { minGain: number; maxP: number; maxRegression: number } | null;
}

/** The summary of a gate report (a GateReportHeader), or null when it is not one. */
export function parseGateReport(text: string): GateSummary | null {
  let report: unknown;
  try {
    report = JSON.parse(text);
  } catch {
    return null;
  }
  const value = report as {
    verdict?: unknown;
    reasons?: unknown;
    createdAt?: unknown;
    candidate?: { version?: unknown } | null;
    thresholds?: { minGain?: unknown; maxP?: unknown; maxRegression?: unknown } | null;
  } | null;
  if (typeof value !== 'object' || value === null) return null;
  if (value.verdict !== 'pass' && value.verdict !== 'fail') return null;
  if (!Array.isArray(value.reasons) || !value.reasons.every((reason) => typeof reason === 'string'))
    return null;
  const candidateVersion = value.candidate?.version;
  if (typeof candidateVersion !== 'string' || typeof value.createdAt !== 'string') return null;
  const { minGain, maxP, maxRegression } = value.thresholds ?? {};
  const numbers = [minGain, maxP, maxRegression].every((n) => typeof n === 'number' && Number.isFinite(n));
  return {
    verdict: value.verdict,
    reasons: value.reasons as string[],
    candidateVersion,
    createdAt: value.createdAt,
    thresholds: numbers
      ? { minGain: minGain as number, maxP: maxP as number, maxRegression: maxRegression as number }
      : null,
  };
}
