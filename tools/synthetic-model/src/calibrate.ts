/**
 * Fits the classifier's out_proj so that a random model behaves like a trained one at the output: each
 * logit is centred over typical inputs and spread a few units wide. Without this, the random <s>
 * features share a large common component and one class wins for every text.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { writeModelFile } from './onnx-proto';
import type { RobertaDimensions } from './presets';
import { NUM_LABELS, PAD_TOKEN_ID, type OutputProjection, type RobertaGraph } from './roberta-graph';

const BOS_TOKEN_ID = 0;
const EOS_TOKEN_ID = 2;
/** Ids below this are special tokens (<s>, <pad>, </s>); <unk> = 3 counts as a word. */
const FIRST_WORD_ID = 3;
const CALIBRATION_SEQUENCES = 48;
const LONGEST_CALIBRATION_SEQUENCE = 32;
/** Standard deviation of each logit across texts; a fine-tuned sentiment model's is a few units. */
const TARGET_LOGIT_STD = 2;

interface CalibrationBatch {
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  shape: [number, number];
}

/**
 * Stand-in texts: `<s> words </s>` of lengths 3 to 32, right-padded. The word ids come from a fixed hash,
 * not the seed, so calibration never shifts the weights drawn from the seeded stream.
 */
function calibrationBatch(dimensions: RobertaDimensions): CalibrationBatch {
  // Position ids run up to length + 1, which must stay inside the position table.
  const longest = Math.min(LONGEST_CALIBRATION_SEQUENCE, dimensions.maxPositionEmbeddings - 2);
  const wordIdCount = dimensions.vocabSize - FIRST_WORD_ID;
  const inputIds = new BigInt64Array(CALIBRATION_SEQUENCES * longest).fill(BigInt(PAD_TOKEN_ID));
  const attentionMask = new BigInt64Array(CALIBRATION_SEQUENCES * longest);
  for (let sequence = 0; sequence < CALIBRATION_SEQUENCES; sequence++) {
    const length = 3 + (sequence % (longest - 2));
    const row = sequence * longest;
    for (let position = 0; position < length; position++) {
      const hash = Math.imul(sequence * 1000 + position + 1, 2654435761) >>> 0;
      const wordId = FIRST_WORD_ID + (hash % wordIdCount);
      const id = position === 0 ? BOS_TOKEN_ID : position === length - 1 ? EOS_TOKEN_ID : wordId;
      inputIds[row + position] = BigInt(id);
      attentionMask[row + position] = 1n;
    }
  }
  return { inputIds, attentionMask, shape: [CALIBRATION_SEQUENCES, longest] };
}

/**
 * Rounds a fitted number to 3 significant digits, so that float noise in onnxruntime's kernels (which can
 * differ between CPUs) almost never changes the bytes of the model.
 */
function roundFitted(value: number): number {
  return Number(value.toPrecision(3));
}

/**
 * The pooled features of the calibration batch, [sequences, hidden]. onnxruntime reads the model from a
 * scratch file, which takes less memory than a 500 MB buffer assembled in JS. One thread keeps the sums
 * in a fixed order.
 */
async function poolCalibrationBatch(graph: RobertaGraph, dimensions: RobertaDimensions, scratchDir: string) {
  const scratchPath = join(scratchDir, `calibration.${process.pid}.onnx`);
  try {
    await writeModelFile(scratchPath, graph.pooledModel);
    const session = await InferenceSession.create(scratchPath, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
    });
    try {
      const batch = calibrationBatch(dimensions);
      const results = await session.run({
        input_ids: new Tensor('int64', batch.inputIds, batch.shape),
        attention_mask: new Tensor('int64', batch.attentionMask, batch.shape),
      });
      return results[session.outputNames[0]].data as Float32Array;
    } finally {
      await session.release();
    }
  } finally {
    await rm(scratchPath, { force: true });
  }
}

/** The graph's initial out_proj weight rescaled, with a bias that centres each logit. */
export async function fitOutputProjection(
  graph: RobertaGraph,
  dimensions: RobertaDimensions,
  scratchDir: string,
): Promise<OutputProjection> {
  const features = await poolCalibrationBatch(graph, dimensions, scratchDir);
  const initialWeight = graph.initialOutputProjection;
  const hiddenSize = dimensions.hiddenSize;
  const logitSums = new Float64Array(NUM_LABELS);
  const logits = new Float64Array(CALIBRATION_SEQUENCES * NUM_LABELS);
  for (let sequence = 0; sequence < CALIBRATION_SEQUENCES; sequence++) {
    for (let label = 0; label < NUM_LABELS; label++) {
      let logit = 0;
      for (let unit = 0; unit < hiddenSize; unit++) {
        logit += features[sequence * hiddenSize + unit] * initialWeight[unit * NUM_LABELS + label];
      }
      logits[sequence * NUM_LABELS + label] = logit;
      logitSums[label] += logit;
    }
  }
  const means = logitSums.map((sum) => sum / CALIBRATION_SEQUENCES);
  const variance =
    logits.reduce((total, logit, index) => total + (logit - means[index % NUM_LABELS]) ** 2, 0) /
    logits.length;
  if (!(variance > 0)) {
    throw new Error('Calibration produced identical logits for every input; try another seed');
  }

  const scale = roundFitted(TARGET_LOGIT_STD / Math.sqrt(variance));
  return {
    weight: initialWeight.map((value) => value * scale),
    bias: Float32Array.from(means, (mean) => roundFitted(-mean * scale)),
  };
}
