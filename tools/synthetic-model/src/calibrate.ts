/**
 * Fits the classifier's out_proj so that a random model behaves like a trained one at the output: each
 * logit is centred over typical inputs and spread a few units wide. Without this, the random <s>
 * features share a large common component and one class wins for every text.
 *
 * "Typical inputs" must look like tweets: centred on uniformly drawn ids of 3 to 32 tokens, the base preset
 * labelled the first 1,200 TweetEval test tweets 54 / 11 / 34 % (negative / neutral / positive), so neutral
 * hardly existed and an fp32/int8 agreement figure said little about it; with the tweet-like ids and lengths
 * below it labels them 36 / 38 / 26 % (the test set's own mix is 32 / 48 / 19 %).
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { writeModelFile } from '@reputation-monitor/onnx-graph';
import type { RobertaDimensions } from './presets';
import { NUM_LABELS, PAD_TOKEN_ID, type OutputProjection, type RobertaGraph } from './roberta-graph';

const BOS_TOKEN_ID = 0;
const EOS_TOKEN_ID = 2;
/** Ids below this are special tokens (<s>, <pad>, </s>); <unk> = 3 counts as a word. */
const FIRST_WORD_ID = 3;
const CALIBRATION_SEQUENCES = 96;
/** Tweets are 15 / 27 / 36 tokens at p10 / p50 / p90 with the RoBERTa tokenizer. */
const SHORTEST_CALIBRATION_SEQUENCE = 12;
const LONGEST_CALIBRATION_SEQUENCE = 42;
/**
 * Word ids are drawn with P(id) ∝ 1 / (id + ID_OFFSET): BPE vocabularies put frequent tokens first, and this
 * puts 21 / 49 / 63 / 79 % of draws below ids 100 / 1k / 3k / 10k, where real tweets have 23 / 49 / 66 / 79 %.
 */
const ID_OFFSET = 20;
/** Standard deviation of each logit across texts; a fine-tuned sentiment model's is a few units. */
const TARGET_LOGIT_STD = 2;

interface CalibrationBatch {
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  shape: [number, number];
}

/**
 * Stand-in tweets: `<s> words </s>` of 12 to 42 tokens, right-padded, with word ids as frequent as real
 * text's (see ID_OFFSET). The ids come from a fixed hash, not the seed, so calibration never shifts the
 * weights drawn from the seeded stream.
 */
function calibrationBatch(dimensions: RobertaDimensions): CalibrationBatch {
  // Position ids run up to length + 1, which must stay inside the position table.
  const longest = Math.min(LONGEST_CALIBRATION_SEQUENCE, dimensions.maxPositionEmbeddings - 2);
  const shortest = Math.min(SHORTEST_CALIBRATION_SEQUENCE, longest);
  // Inverse CDF of P(id) ∝ 1 / (id + ID_OFFSET) over [FIRST_WORD_ID, vocabSize).
  const low = FIRST_WORD_ID + ID_OFFSET;
  const ratio = (dimensions.vocabSize + ID_OFFSET) / low;
  const inputIds = new BigInt64Array(CALIBRATION_SEQUENCES * longest).fill(BigInt(PAD_TOKEN_ID));
  const attentionMask = new BigInt64Array(CALIBRATION_SEQUENCES * longest);
  for (let sequence = 0; sequence < CALIBRATION_SEQUENCES; sequence++) {
    const length = shortest + (sequence % (longest - shortest + 1));
    const row = sequence * longest;
    for (let position = 0; position < length; position++) {
      const hash = Math.imul(sequence * 1000 + position + 1, 2654435761) >>> 0;
      const drawn = Math.floor(low * ratio ** (hash / 4294967296)) - ID_OFFSET;
      const wordId = Math.min(dimensions.vocabSize - 1, Math.max(FIRST_WORD_ID, drawn));
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
