import { execFileSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { float32RawData, float32Values, readModelFile, writeModelFile } from '@reputation-monitor/onnx-graph';
import { SentimentModel } from './sentiment-model';
import { openModelDirectory } from './model-directory';

const ROOT = resolve(__dirname, '../../..');
let workDir: string;
let modelDir: string;

// A real ONNX graph with the export's interface, written by the project's own generator.
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'model-runtime-'));
  modelDir = join(workDir, 'tiny');
  execFileSync(join(ROOT, 'node_modules/.bin/tsx'), [
    join(ROOT, 'tools/synthetic-model/src/cli.ts'),
    '--preset',
    'tiny',
    '--out',
    modelDir,
  ]);
});

afterAll(() => rm(workDir, { recursive: true, force: true }));

/** Copies the tiny model so a test can break one thing about it. */
async function variantOf(name: string, change: (dir: string) => Promise<void>): Promise<string> {
  const dir = join(workDir, name);
  await cp(modelDir, dir, { recursive: true });
  await change(dir);
  return dir;
}

function batchOf(rows: number[][]) {
  const sequenceLength = Math.max(...rows.map((row) => row.length));
  const inputIds = new BigInt64Array(rows.length * sequenceLength).fill(1n);
  const attentionMask = new BigInt64Array(rows.length * sequenceLength);
  rows.forEach((row, r) =>
    row.forEach((id, i) => {
      inputIds[r * sequenceLength + i] = BigInt(id);
      attentionMask[r * sequenceLength + i] = 1n;
    }),
  );
  return { inputIds, attentionMask, batchSize: rows.length, sequenceLength };
}

const HELLO = [0, 31414, 232, 2];
const EXAMPLE = [0, 713, 16, 41, 1246, 2];

describe('SentimentModel', () => {
  let model: SentimentModel;
  beforeAll(async () => {
    model = await SentimentModel.load({ modelDir, intraOpThreads: 1 });
  });
  afterAll(() => model.close());

  it('returns a softmax row per text', async () => {
    const { scores, computeMs } = await model.run(batchOf([HELLO, EXAMPLE]));
    expect(scores).toHaveLength(2);
    for (const row of scores) {
      expect(row).toHaveLength(3);
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    }
    expect(computeMs).toBeGreaterThan(0);
  });

  it('gives each concurrent caller its own rows, the same as running alone', async () => {
    const [alone] = (await model.run(batchOf([EXAMPLE]))).scores;
    const results = await Promise.all([
      model.run(batchOf([HELLO])),
      model.run(batchOf([EXAMPLE])),
      model.run(batchOf([HELLO, EXAMPLE])),
    ]);
    results[1].scores[0].forEach((value, index) => expect(value).toBeCloseTo(alone[index], 5));
    results[2].scores[1].forEach((value, index) => expect(value).toBeCloseTo(alone[index], 5));
  });

  it('rejects tensors that do not match the stated shape', async () => {
    const batch = batchOf([HELLO]);
    await expect(model.run({ ...batch, batchSize: 2 })).rejects.toThrow('batch tensors must hold 8 ids');
  });

  it('turns an ONNX Runtime failure into a rejected run and keeps serving', async () => {
    // Token id 60000 is outside the 50,265-row embedding table: the Gather kernel fails on the thread.
    await expect(model.run(batchOf([[0, 60_000, 2]]))).rejects.toThrow(/^inference failed: /);
    expect(model.broken).toBeUndefined();
    expect((await model.run(batchOf([HELLO]))).scores).toHaveLength(1);
  });

  /** The tiny model with the embedding of one token set to NaN: every text holding it gets NaN logits. */
  function withNanToken(name: string, token: number): Promise<string> {
    return variantOf(name, async (variant) => {
      const path = join(variant, 'onnx/model.onnx');
      const graph = await readModelFile(path);
      const embeddings = graph.graph.initializers.find(
        (tensor) => tensor.name === 'roberta.embeddings.word_embeddings.weight',
      );
      if (!embeddings) throw new Error('the tiny graph has no word embeddings');
      const values = float32Values(embeddings);
      const hidden = embeddings.dims[1];
      values.fill(NaN, token * hidden, (token + 1) * hidden);
      await writeModelFile(path, {
        ...graph,
        graph: {
          ...graph.graph,
          initializers: graph.graph.initializers.map((tensor) =>
            tensor === embeddings ? { ...tensor, rawData: float32RawData(values) } : tensor,
          ),
        },
      });
    });
  }

  it('refuses a run whose logits are not finite, naming how many texts, and keeps serving the others', async () => {
    const poisoned = await SentimentModel.load({
      modelDir: await withNanToken('nan-713', 713),
      intraOpThreads: 1,
    });
    try {
      // 713 is in EXAMPLE only.
      await expect(poisoned.run(batchOf([HELLO, EXAMPLE, HELLO]))).rejects.toThrow(
        'the model gave non-finite logits (NaN or infinite) for 1 of 3 texts',
      );
      expect(poisoned.broken).toBeUndefined();
      const { scores } = await poisoned.run(batchOf([HELLO, HELLO]));
      expect(scores.flat().every(Number.isFinite)).toBe(true);
    } finally {
      await poisoned.close();
    }
  });

  it('refuses to load a model that gives no finite answer to its warm-up text, and ends its thread', async () => {
    // 31414 ("Hello") is in the warm-up text. A thread left behind would keep this test file from exiting.
    const dir = await withNanToken('nan-31414', 31414);
    await expect(SentimentModel.load({ modelDir: dir, intraOpThreads: 1 })).rejects.toThrow(
      /failed its warm-up run: the model gave non-finite logits \(NaN or infinite\) for 1 of 1 texts$/,
    );
  });

  it('runs its inference threads at the nice it was given, and the process keeps its own', async () => {
    const threadNices = () =>
      readdirSync(`/proc/${process.pid}/task`).map((tid) => {
        const stat = readFileSync(`/proc/${process.pid}/task/${tid}/stat`, 'utf8');
        // Fields after the command name (which may hold spaces): nice is the 19th field of the line.
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
      });
    const before = threadNices().filter((nice) => nice === 7).length;
    const niced = await SentimentModel.load({ modelDir, intraOpThreads: 2, niceness: 7 });
    try {
      expect(niced.priorityProblem).toBeUndefined();
      // The inference thread and ONNX Runtime's pool thread it created.
      expect(threadNices().filter((nice) => nice === 7).length - before).toBeGreaterThanOrEqual(2);
      expect(getPriority()).toBe(0);
      const { scores } = await niced.run(batchOf([[0, 31414, 2]]));
      expect(scores).toHaveLength(1);
    } finally {
      await niced.close();
    }
  });

  it('refuses work after close', async () => {
    const closing = await SentimentModel.load({ modelDir, warmup: false });
    await closing.close();
    await expect(closing.run(batchOf([HELLO]))).rejects.toThrow('model is closed');
  });

  it('names a graph ONNX Runtime cannot load', async () => {
    const dir = await variantOf('corrupt', (d) => writeFile(join(d, 'onnx/model.onnx'), 'not a model'));
    await expect(SentimentModel.load({ modelDir: dir })).rejects.toThrow(
      `cannot load ${join(dir, 'onnx/model.onnx')}`,
    );
  });
});

describe('openModelDirectory', () => {
  it('finds the fp32 graph and the config in the export layout', async () => {
    const directory = await openModelDirectory(modelDir);
    expect(directory.modelPath).toBe(join(modelDir, 'onnx/model.onnx'));
    expect(directory.config.id2label).toEqual({ 0: 'negative', 1: 'neutral', 2: 'positive' });
    expect(directory.modelBytes).toBeGreaterThan(1_000_000);
  });

  it('accepts model.onnx at the top level', async () => {
    const dir = await variantOf('flat', async (d) => {
      await cp(join(d, 'onnx/model.onnx'), join(d, 'model.onnx'));
      await rm(join(d, 'onnx'), { recursive: true });
    });
    expect((await openModelDirectory(dir)).modelPath).toBe(join(dir, 'model.onnx'));
  });

  it('says what it looked for when a variant is missing', async () => {
    await expect(openModelDirectory(modelDir, 'int8')).rejects.toThrow(
      `model directory ${modelDir} has no int8 ONNX graph (looked for onnx/model_quantized.onnx, model_quantized.onnx)`,
    );
  });

  it('names a missing directory, config, tokenizer or wrong labels', async () => {
    await expect(openModelDirectory(join(workDir, 'absent'))).rejects.toThrow(
      `model directory ${join(workDir, 'absent')} does not exist`,
    );
    const noConfig = await variantOf('no-config', (d) => rm(join(d, 'config.json')));
    await expect(openModelDirectory(noConfig)).rejects.toThrow(
      `cannot read ${join(noConfig, 'config.json')}`,
    );
    const noTokenizer = await variantOf('no-tokenizer', (d) => rm(join(d, 'tokenizer.json')));
    await expect(openModelDirectory(noTokenizer)).rejects.toThrow(
      `model directory ${noTokenizer} has no tokenizer.json`,
    );
    const generic = await variantOf('generic-labels', async (d) => {
      const config = JSON.parse(await readFile(join(d, 'config.json'), 'utf8'));
      config.id2label = { 0: 'LABEL_0', 1: 'LABEL_1', 2: 'LABEL_2' };
      await writeFile(join(d, 'config.json'), JSON.stringify(config));
    });
    await expect(openModelDirectory(generic)).rejects.toThrow(
      'does not match the sentiment label schema: id2label[0] is "LABEL_0"',
    );
  });
});
