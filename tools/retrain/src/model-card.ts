import type { GateReport } from './gate';
import type { RetrainProvenance } from './train';

/** README.md of a published candidate: what it was trained on, how, and the gate's verdict. */
export function modelCard(report: GateReport, gateMarkdown: string): string {
  const provenance: RetrainProvenance | null = report.candidate.provenance;
  const dataset = provenance?.dataset;
  const lines = [
    '---',
    'library_name: onnxruntime',
    'pipeline_tag: text-classification',
    'language: en',
    'tags: [sentiment, twitter, onnx, reputation-monitor, candidate]',
    ...(provenance ? [`base_model: ${JSON.stringify(provenance.parent.name)}`] : []),
    '---',
    '',
    `# Candidate ${report.candidate.version}`,
    '',
    'A retrained candidate of the Reputation Monitor sentiment model (0 negative, 1 neutral, 2 positive), in the',
    'optimum ONNX export layout the inference worker serves (`onnx/model.onnx`, `onnx/model_quantized.onnx`).',
    'It is a candidate: promotion to production is a separate, audited step.',
    '',
    '## How it was made',
    '',
  ];
  if (provenance && dataset) {
    lines.push(
      `- Parent: \`${provenance.parent.name}\` version \`${provenance.parent.version}\`` +
        (provenance.parent.revision ? ` (Hub revision \`${provenance.parent.revision}\`)` : ''),
      `- Method: ${provenance.method}.`,
      `- Data: snapshot \`${dataset.location}\` (manifest sha256 \`${dataset.manifestSha256.slice(0, 16)}…\`): ` +
        `${dataset.examples} distinct labelled texts from ${dataset.records} records; ${dataset.train} for fitting, ` +
        `${dataset.validation} for early stopping, the newest ${dataset.holdout} held out for the gate` +
        (dataset.excludedGolden > 0 ? `; ${dataset.excludedGolden} golden-set texts left out.` : '.'),
      `- Seed ${provenance.seed}; hyper-parameters \`${JSON.stringify(provenance.hyperParameters)}\`; ` +
        `${provenance.training.epochsRun} epochs, best ${provenance.training.bestEpoch}; class weights ` +
        `${provenance.training.classWeights.map((weight) => weight.toFixed(2)).join(' / ')}.`,
      `- Validation macro recall ${provenance.metrics.validationMacroRecall.parent.toFixed(3)} (parent) -> ` +
        `${provenance.metrics.validationMacroRecall.candidate.toFixed(3)}.`,
    );
  } else {
    lines.push('- No retrain provenance in config.json.');
  }
  lines.push('', gateMarkdown.replace(/^### /, '## '), '`gate-report.json` holds the full report.', '');
  return lines.join('\n');
}
