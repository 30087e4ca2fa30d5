import { GateReportHeader, encodeGateReport, parseGateReport } from './gate-report';

const report: GateReportHeader & { sets: unknown } = {
  verdict: 'pass',
  reasons: ['holdout macro recall 0.30 -> 0.40 (+0.10)'],
  createdAt: '2026-11-29T00:00:00.000Z',
  thresholds: { minGain: 0.01, maxP: 0.01, maxRegression: 0.01, permutations: 10_000, seed: 1 },
  champion: { version: 'fp32-aaaaaaaaaaaa' },
  candidate: { version: 'fp32-bbbbbbbbbbbb' },
  sets: { holdout: {} },
};

describe('gate report', () => {
  it('reads back the summary of what the gate writes', () => {
    expect(parseGateReport(encodeGateReport(report))).toEqual({
      verdict: 'pass',
      reasons: report.reasons,
      candidateVersion: 'fp32-bbbbbbbbbbbb',
      createdAt: report.createdAt,
      thresholds: { minGain: 0.01, maxP: 0.01, maxRegression: 0.01 },
    });
    expect(encodeGateReport(report).endsWith('}\n')).toBe(true);
  });

  it('gives no thresholds for a report that names none, and nothing for what is not a report', () => {
    expect(parseGateReport(JSON.stringify({ ...report, thresholds: undefined }))?.thresholds).toBeNull();
    expect(parseGateReport('{')).toBeNull();
    expect(parseGateReport(JSON.stringify({ ...report, verdict: 'maybe' }))).toBeNull();
    expect(parseGateReport(JSON.stringify({ ...report, candidate: {} }))).toBeNull();
    expect(parseGateReport(JSON.stringify({ ...report, reasons: [1] }))).toBeNull();
  });
});
