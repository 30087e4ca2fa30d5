import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { DEFAULT_SEED, generateSyntheticModel, type SyntheticModelResult } from './index';

const TOKENIZER_DIR = resolve(__dirname, '../../../../shared/data/roberta-tokenizer');
const PAD_ID = 1;

/** Ids from the real tokenizer (@huggingface/tokenizers with these tokenizer files). */
const TEXTS: Record<string, number[]> = {
  'This is an example': [0, 713, 16, 41, 1246, 2],
  'Hello world': [0, 31414, 232, 2],
  'Good night 😊': [0, 12350, 363, 17841, 27969, 2],
  'Hello world! cécé herlolip': [0, 31414, 232, 328, 740, 1140, 12695, 69, 46078, 1588, 2],
  'I love this so much!': [0, 100, 657, 42, 98, 203, 328, 2],
  'This is the worst day ever.': [0, 713, 16, 5, 2373, 183, 655, 4, 2],
  'The meeting is at 3pm.': [0, 133, 529, 16, 23, 155, 1685, 4, 2],
  'Covid cases are increasing fast!': [0, 347, 1417, 808, 1200, 32, 2284, 1769, 328, 2],
  'Thanks for the help yesterday': [0, 22086, 13, 5, 244, 2350, 2],
  'Never going back there': [0, 22491, 164, 124, 89, 2],
  ok: [0, 1638, 2],
  'the train was late again': [0, 627, 2341, 21, 628, 456, 2],
};
const ALL_SEQUENCES = Object.values(TEXTS);

/** Runs sequences as one batch, right-padded with <pad> / mask 0 to the longest; one logits row each. */
async function classify(
  session: InferenceSession,
  sequences: number[][],
): Promise<{ logits: number[][]; dims: readonly number[] }> {
  const width = Math.max(...sequences.map((sequence) => sequence.length));
  const inputIds: bigint[] = [];
  const attentionMask: bigint[] = [];
  for (const sequence of sequences) {
    for (let index = 0; index < width; index++) {
      const isToken = index < sequence.length;
      inputIds.push(BigInt(isToken ? sequence[index] : PAD_ID));
      attentionMask.push(isToken ? 1n : 0n);
    }
  }
  const shape = [sequences.length, width];
  const { logits } = await session.run({
    input_ids: new Tensor('int64', BigInt64Array.from(inputIds), shape),
    attention_mask: new Tensor('int64', BigInt64Array.from(attentionMask), shape),
  });
  const values = Array.from(logits.data as Float32Array);
  return {
    logits: sequences.map((_, row) => values.slice(row * 3, row * 3 + 3)),
    dims: logits.dims,
  };
}

const argmax = (values: number[]) => values.indexOf(Math.max(...values));

describe('generateSyntheticModel', () => {
  let workDir: string;
  let tiny: SyntheticModelResult;
  let session: InferenceSession;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'synthetic-model-'));
    tiny = await generateSyntheticModel({
      outDir: join(workDir, 'tiny'),
      preset: 'tiny',
      tokenizerDir: TOKENIZER_DIR,
    });
    session = await InferenceSession.create(tiny.modelPath);
  });

  afterAll(async () => {
    await session?.release();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('writes the optimum layout with a config that marks the model as synthetic', async () => {
    for (const file of [
      'onnx/model.onnx',
      'config.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'vocab.json',
    ]) {
      expect(existsSync(join(tiny.outDir, file))).toBe(true);
    }
    expect(tiny.bytes).toBe((await stat(tiny.modelPath)).size);
    // Embeddings 50265*32 + 514*32 + 32 + LayerNorm 64; 2 layers of 8544; head 32*32+32 + 32*3+3.
    expect(tiny.parameterCount).toBe(1_643_267);

    const config = JSON.parse(await readFile(join(tiny.outDir, 'config.json'), 'utf8'));
    expect(config).toEqual(tiny.config);
    expect(config).toMatchObject({
      _name_or_path: 'synthetic/twitter-roberta-base-sentiment-latest',
      architectures: ['RobertaForSequenceClassification'],
      model_type: 'roberta',
      hidden_size: 32,
      num_hidden_layers: 2,
      vocab_size: 50265,
      max_position_embeddings: 514,
      pad_token_id: 1,
      id2label: { '0': 'negative', '1': 'neutral', '2': 'positive' },
      label2id: { negative: 0, neutral: 1, positive: 2 },
      synthetic: { preset: 'tiny', seed: DEFAULT_SEED, layout: { opset: 11, attention: 'eager' } },
    });
  });

  it('has the inputs and output of the optimum export', () => {
    const batchBySequence = ['batch_size', 'sequence_length'];
    expect(session.inputMetadata).toEqual([
      { name: 'input_ids', isTensor: true, type: 'int64', shape: batchBySequence },
      { name: 'attention_mask', isTensor: true, type: 'int64', shape: batchBySequence },
    ]);
    expect(session.outputMetadata).toEqual([
      { name: 'logits', isTensor: true, type: 'float32', shape: ['batch_size', 3] },
    ]);
  });

  it('returns finite [batch, 3] logits for a padded batch', async () => {
    const { logits, dims } = await classify(session, ALL_SEQUENCES);
    expect(dims).toEqual([ALL_SEQUENCES.length, 3]);
    expect(logits.flat().every(Number.isFinite)).toBe(true);
  });

  // Proves RoBERTa's wiring: position ids count only real tokens, and masked keys get zero attention.
  // (Left padding is not invariant, in HF either: the head reads position 0, which would be <pad>.)
  it('gives a sequence the same logits alone as right-padded inside a longer batch', async () => {
    const { logits: batched } = await classify(session, ALL_SEQUENCES);
    for (const [index, sequence] of ALL_SEQUENCES.entries()) {
      const { logits: alone } = await classify(session, [sequence]);
      const largestDifference = Math.max(
        ...alone[0].map((value, label) => Math.abs(value - batched[index][label])),
      );
      expect(largestDifference).toBeLessThan(1e-4);
    }
  });

  it('predicts more than one label across different texts', async () => {
    const { logits } = await classify(session, ALL_SEQUENCES);
    const labels = new Set(logits.map(argmax));
    expect(labels.size).toBeGreaterThanOrEqual(2);
  });

  it('writes identical bytes for the same seed and different bytes for another', async () => {
    const again = await generateSyntheticModel({
      outDir: join(workDir, 'again'),
      preset: 'tiny',
      tokenizerDir: TOKENIZER_DIR,
    });
    const otherSeed = await generateSyntheticModel({
      outDir: join(workDir, 'other-seed'),
      preset: 'tiny',
      seed: DEFAULT_SEED + 1,
      tokenizerDir: TOKENIZER_DIR,
    });
    const original = await readFile(tiny.modelPath);
    expect((await readFile(again.modelPath)).equals(original)).toBe(true);
    expect((await readFile(otherSeed.modelPath)).equals(original)).toBe(false);
  });

  // Every export layout computes the same function from the same weights: only the node pattern changes.
  it.each([
    { opset: 14, attention: 'sdpa' as const },
    { opset: 17, attention: 'eager' as const },
  ])('computes the same logits in the layout of opset $opset, $attention attention', async (layout) => {
    const other = await generateSyntheticModel({
      outDir: join(workDir, `layout-${layout.opset}-${layout.attention}`),
      preset: 'tiny',
      tokenizerDir: TOKENIZER_DIR,
      layout,
    });
    expect(other.config.synthetic.layout).toEqual(layout);
    const otherSession = await InferenceSession.create(other.modelPath);
    try {
      const { logits: expected } = await classify(session, ALL_SEQUENCES);
      const { logits } = await classify(otherSession, ALL_SEQUENCES);
      const largestDifference = Math.max(
        ...logits.flatMap((row, index) =>
          row.map((value, label) => Math.abs(value - expected[index][label])),
        ),
      );
      expect(largestDifference).toBeLessThan(1e-4);
    } finally {
      await otherSession.release();
    }
  });

  it('applies overrides to the graph and the config', async () => {
    const oneLayer = await generateSyntheticModel({
      outDir: join(workDir, 'one-layer'),
      preset: 'tiny',
      tokenizerDir: TOKENIZER_DIR,
      overrides: { numHiddenLayers: 1, hiddenSize: 16 },
    });
    expect(oneLayer.config).toMatchObject({ num_hidden_layers: 1, hidden_size: 16, num_attention_heads: 4 });
    const oneLayerSession = await InferenceSession.create(oneLayer.modelPath);
    try {
      const { dims } = await classify(oneLayerSession, [TEXTS['Hello world']]);
      expect(dims).toEqual([1, 3]);
    } finally {
      await oneLayerSession.release();
    }
  });

  it('rejects dimensions that cannot form a graph', async () => {
    await expect(
      generateSyntheticModel({
        outDir: join(workDir, 'bad'),
        preset: 'tiny',
        tokenizerDir: TOKENIZER_DIR,
        overrides: { numAttentionHeads: 5 },
      }),
    ).rejects.toThrow('divisible');
  });

  it('rejects a tokenizer directory without tokenizer.json', async () => {
    await expect(
      generateSyntheticModel({
        outDir: join(workDir, 'no-tokenizer'),
        preset: 'tiny',
        tokenizerDir: join(workDir, 'missing'),
      }),
    ).rejects.toThrow(/has no tokenizer\.json/);
    expect(existsSync(join(workDir, 'no-tokenizer'))).toBe(false);
  });
});
