import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readTweetEval } from '@reputation-monitor/app-harness';
import { LabelledExample } from '@reputation-monitor/contracts';
import {
  DatasetStore,
  LocalDatasetBackend,
  buildManifest,
  encodeManifest,
  newBatchId,
  shardInfo,
  shardPath,
} from '@reputation-monitor/dataset-store';
import { FakeHub } from '@reputation-monitor/fake-hub';
import IORedis from 'ioredis';
import { SentimentModel, openModelDirectory } from '@reputation-monitor/model-runtime';
import { decodeModel, encodeModel, findClassifierHead, readModelFile } from '@reputation-monitor/onnx-graph';
import { ExampleBuffer, exampleId } from '@reputation-monitor/prediction-store';
import { SentimentTokenizer } from '@reputation-monitor/tokenizer';
import { predictLabels } from './fit/softmax-head';
import { extractFeatures } from './model-scoring';
import { runGate } from './gate';
import { publishCandidate } from './publish';
import { RetrainOptions, retrain } from './train';

const ROOT = resolve(__dirname, '../../..');
const TSX = join(ROOT, 'node_modules/.bin/tsx');
const NO_HUB = { endpoint: 'http://127.0.0.1:9' };
const FIT = { l2: 1e-4, learningRate: 0.05, maxEpochs: 60, patience: 20, classWeights: 'balanced' as const };

let work: string;
let base: string;
let golden: string;
let snapshot: string;

function examples(count: number, from = 0): LabelledExample[] {
  return readTweetEval('val')
    .slice(from, from + count)
    .map((tweet, index) => ({
      id: exampleId(tweet.text),
      text: tweet.text,
      label: tweet.label,
      source: index % 2 === 0 ? 'twitter' : 'forum',
      origin: 'import' as const,
      at: Date.UTC(2026, 0, 1) + index * 1_000,
    }));
}

async function storeWith(name: string, records: LabelledExample[]): Promise<string> {
  const store = new DatasetStore(new LocalDatasetBackend(join(work, name)));
  return (await store.appendBatch(newBatchId(), records)).snapshot.ref.location;
}

function options(overrides: Partial<RetrainOptions>): RetrainOptions {
  return {
    baseDir: base,
    dataset: snapshot,
    outDir: join(work, `out-${Math.random().toString(36).slice(2)}`),
    hub: NO_HUB,
    seed: 7,
    fit: FIT,
    golden,
    log: () => undefined,
    ...overrides,
  };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'retrain-'));
  base = join(work, 'tiny');
  execFileSync(TSX, [join(ROOT, 'tools/synthetic-model/src/cli.ts'), '--preset', 'tiny', '--out', base]);
  golden = join(work, 'golden.jsonl');
  await writeFile(
    golden,
    readTweetEval('test')
      .slice(0, 150)
      .map((tweet) => JSON.stringify(tweet))
      .join('\n') + '\n',
  );
  snapshot = await storeWith('store', examples(500));
});

afterAll(() => rm(work, { recursive: true, force: true }));

describe('retrain', () => {
  it('writes a complete model directory the worker loads, with provenance, and whose head is the fitted one', async () => {
    const out = join(work, 'candidate');
    const { provenance } = await retrain(options({ outDir: out }));
    expect((await readdir(join(out, 'onnx'))).sort()).toEqual(['model.onnx', 'model_quantized.onnx']);
    for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json'])
      expect((await readdir(out)).includes(file)).toBe(true);
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    expect(config.id2label).toEqual(JSON.parse(await readFile(join(base, 'config.json'), 'utf8')).id2label);
    expect(config.retrain).toMatchObject({
      seed: 7,
      parent: { dir: base, version: expect.stringMatching(/^fp32-[0-9a-f]{12}$/), revision: null },
      dataset: { location: snapshot, examples: 500, train: expect.any(Number), holdout: 100 },
      head: { featureName: 'pooled', featureSize: 32 },
    });
    expect(provenance.dataset.train + provenance.dataset.validation + provenance.dataset.holdout).toBe(500);

    // Both graphs load as the worker loads them.
    for (const variant of ['fp32', 'int8'] as const) {
      const model = await SentimentModel.load({ modelDir: out, variant, warmup: true });
      await model.close();
    }
    // The new graph computes exactly the fitted head on the parent's features.
    const graph = await readModelFile(join(out, 'onnx/model.onnx'));
    const head = findClassifierHead(graph);
    const texts = examples(20, 600).map((example) => example.text);
    const features = await extractFeatures(base, texts);
    const expected = predictLabels(features.features, 32, head.weight, head.bias);
    const tokenizer = await SentimentTokenizer.fromDirectory(out);
    const model = await SentimentModel.open(await openModelDirectory(out, 'fp32'), { warmup: false });
    const served = [];
    for (const text of texts) {
      const { scores } = await model.run(tokenizer.pad([tokenizer.encode(text).ids]));
      served.push(scores[0].indexOf(Math.max(...scores[0])));
    }
    await model.close();
    expect(served).toEqual(Array.from(expected));
  });

  it('is deterministic for a seed', async () => {
    const digest = async (dir: string) =>
      createHash('sha256')
        .update(await readFile(join(dir, 'onnx/model.onnx')))
        .digest('hex');
    const [a, b] = [join(work, 'det-a'), join(work, 'det-b')];
    await retrain(options({ outDir: a, int8: false }));
    await retrain(options({ outDir: b, int8: false }));
    expect(await digest(a)).toBe(await digest(b));
  });

  it('never trains on golden-set texts', async () => {
    const withGolden = [
      ...examples(300),
      ...readTweetEval('test')
        .slice(0, 20)
        .map((tweet, i) => ({
          id: exampleId(tweet.text),
          text: tweet.text,
          label: tweet.label,
          source: '',
          origin: 'import' as const,
          at: Date.UTC(2025, 0, 1) + i,
        })),
    ];
    const location = await storeWith('with-golden', withGolden);
    const goldenTexts = new Set(
      readTweetEval('test')
        .slice(0, 20)
        .map((tweet) => tweet.text),
    );
    const { provenance } = await retrain(options({ dataset: location, int8: false }));
    expect(provenance.dataset.excludedGolden).toBe(20);
    // The same split the trainer made: no golden text in what it fitted on or stopped on.
    const { splitDataset } = await import('./split');
    const split = splitDataset(withGolden, { seed: 7, goldenTexts });
    expect([...split.train, ...split.validation].filter((e) => goldenTexts.has(e.text))).toEqual([]);
    expect(provenance.dataset.train + provenance.dataset.validation).toBe(320 - 64 - 20);
  });

  it.each([
    ['an empty store', async () => join(work, 'empty-store'), /holds no snapshot yet/],
    [
      'a one-label dataset',
      () =>
        storeWith(
          'one-label',
          examples(200).map((example) => ({ ...example, label: 'neutral' as const })),
        ),
      /one label only \(neutral\)/,
    ],
    [
      'a revision that does not exist',
      async () => `${join(work, 'store')}@${'0'.repeat(64)}`,
      /has no snapshot 0000/,
    ],
  ])('refuses %s with a clear error', async (_case, location, message) => {
    await expect(retrain(options({ dataset: await location() }))).rejects.toThrow(message);
  });

  it('names the file and line of a record whose label is not the schema', async () => {
    const dir = join(work, 'bad-labels');
    const backend = new LocalDatasetBackend(dir);
    const batch = newBatchId();
    const good = examples(1)[0];
    const content = Buffer.from(`${JSON.stringify(good)}\n${JSON.stringify({ ...good, label: 'angry' })}\n`);
    const manifest = buildManifest([shardInfo(shardPath(batch), batch, content, [good])], [], 'hand-made');
    const revision = await backend.commit({
      files: [{ path: shardPath(batch), content }],
      deletedPaths: [],
      manifest: encodeManifest(manifest),
      message: 'hand-made',
      parent: undefined,
    });
    await expect(retrain(options({ dataset: `${dir}@${revision}` }))).rejects.toThrow(
      `${shardPath(batch)} line 2: label must be one of negative, neutral, positive (got "angry")`,
    );
  });

  it('refuses a base model without a head it can re-fit, and an output directory that is not empty', async () => {
    const headless = join(work, 'headless');
    await cp(base, headless, { recursive: true });
    // Logits from a Softmax over the head's output: nothing the trainer may re-fit.
    const model = decodeModel(await readFile(join(headless, 'onnx/model.onnx')));
    const nodes = model.graph.nodes.map((node) =>
      node.outputs.includes('logits') ? { ...node, outputs: ['raw_logits'] } : node,
    );
    const softmax = {
      name: 'softmax',
      opType: 'Softmax',
      inputs: ['raw_logits'],
      outputs: ['logits'],
      attributes: [],
    };
    const headlessModel = { ...model, graph: { ...model.graph, nodes: [...nodes, softmax] } };
    await writeFile(join(headless, 'onnx/model.onnx'), Buffer.concat(encodeModel(headlessModel)));
    await expect(retrain(options({ baseDir: headless }))).rejects.toThrow(
      /the base model has no classification head the trainer can re-fit/,
    );
    await expect(retrain(options({ outDir: base }))).rejects.toThrow(/is not empty/);
  });
});

describe('gate and publish', () => {
  let candidate: string;
  let hub: FakeHub;

  beforeAll(async () => {
    candidate = join(work, 'gated');
    await retrain(options({ outDir: candidate }));
    hub = await FakeHub.start({ tokens: ['hf_write'] });
  });

  afterAll(() => hub.close());

  it('compares champion and candidate on the golden set and the holdout, and fails a rule it cannot meet', async () => {
    const report = await runGate({
      championDir: base,
      candidateDir: candidate,
      golden,
      hub: NO_HUB,
      minGain: 0.9,
      permutations: 1_000,
    });
    expect(report.verdict).toBe('fail');
    expect(report.reasons[0]).toMatch(/^holdout macro recall .* at least \+0\.9 needed/);
    expect(report.sets.holdout.count).toBe(100);
    expect(report.sets.golden.count).toBe(150);
    expect(Object.keys(report.sets.holdout.bySource).sort()).toEqual(['forum', 'twitter']);
    expect(report.sets.holdout.test.alternative).toBe('greater');
    expect(report.sets.holdout.mcnemar.b + report.sets.holdout.mcnemar.c).toBe(
      report.sets.holdout.test.discordant,
    );
    expect(report.reasons).toContain('the holdout is the one the candidate was trained without');
  });

  it('fails a candidate without provenance: nothing shows it did not see the holdout', async () => {
    const anonymous = join(work, 'anonymous');
    await cp(candidate, anonymous, { recursive: true });
    const config = JSON.parse(await readFile(join(anonymous, 'config.json'), 'utf8'));
    delete config.retrain;
    await writeFile(join(anonymous, 'config.json'), JSON.stringify(config));
    const report = await runGate({
      championDir: base,
      candidateDir: anonymous,
      dataset: snapshot,
      golden,
      hub: NO_HUB,
      minGain: -1,
      maxP: 1.01,
      maxRegression: 1,
      permutations: 200,
    });
    expect(report.verdict).toBe('fail');
    expect(report.reasons[0]).toMatch(/has no retrain provenance/);
  });

  it('uploads nothing for a candidate whose gate did not pass, and a passed one to a branch of its own', async () => {
    const failing = await runGate({
      championDir: base,
      candidateDir: candidate,
      golden,
      hub: NO_HUB,
      minGain: 0.9,
      permutations: 500,
    });
    const failingReport = join(work, 'failing.json');
    await writeFile(failingReport, JSON.stringify(failing));
    const connection = { endpoint: hub.endpoint, token: 'hf_write' };
    await expect(
      publishCandidate({
        candidateDir: candidate,
        report: failingReport,
        repo: 'acme/sentiment',
        hub: connection,
      }),
    ).rejects.toThrow(/not published: the gate did not pass/);
    expect(hub.requests.filter((request) => request.method !== 'GET')).toEqual([]);

    // Thresholds any candidate meets, to exercise the upload itself.
    const passing = await runGate({
      championDir: base,
      candidateDir: candidate,
      golden,
      hub: NO_HUB,
      minGain: -1,
      maxP: 1.01,
      maxRegression: 1,
      permutations: 500,
    });
    expect(passing.verdict).toBe('pass');
    const passingReport = join(work, 'passing.json');
    await writeFile(passingReport, JSON.stringify(passing));
    const result = await publishCandidate({
      candidateDir: candidate,
      report: passingReport,
      repo: 'acme/sentiment',
      hub: connection,
    });
    expect(result.branch).toBe(`candidate-${passing.candidate.version}`);
    const files = hub.files('model', 'acme/sentiment', result.branch);
    expect([...files.keys()].sort()).toEqual(
      expect.arrayContaining([
        'README.md',
        'config.json',
        'gate-report.json',
        'onnx/model.onnx',
        'onnx/model_quantized.onnx',
        'tokenizer.json',
      ]),
    );
    expect(files.get('README.md')!.toString()).toMatch(/## Evaluation gate: passed/);
  });
});

describe('the CLI', () => {
  const cli = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
      execFile(
        TSX,
        ['--tsconfig', join(ROOT, 'tsconfig.base.json'), join(__dirname, 'cli.ts'), ...args],
        { cwd: ROOT, env: { ...process.env, ...env } },
        (error, stdout, stderr) =>
          done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });

  it('names a missing flag and shows the usage', async () => {
    const result = await cli(['train', '--base', base]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/--dataset is required[\s\S]*usage: npm run retrain/);
  });

  it('refuses a value out of range', async () => {
    const result = await cli([
      'gate',
      '--champion',
      base,
      '--candidate',
      base,
      '--golden',
      golden,
      '--max-p',
      '2',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/--max-p got "2"/);
  });

  it('exits 3 when the gate does not pass', async () => {
    const out = join(work, 'cli-gate.json');
    const result = await cli([
      'gate',
      '--champion',
      base,
      '--candidate',
      join(work, 'gated'),
      '--golden',
      golden,
      '--min-gain',
      '0.9',
      '--permutations',
      '200',
      '--out',
      out,
    ]);
    expect(result.code).toBe(3);
    expect(JSON.parse(await readFile(out, 'utf8')).verdict).toBe('fail');
  });

  it('deletes an example by its text from every shard and from the Redis buffer, recording the deletion', async () => {
    const dir = join(work, 'deletable');
    const records = examples(40);
    const victim = records[5];
    const store = new DatasetStore(new LocalDatasetBackend(dir));
    await store.appendBatch(newBatchId(), records.slice(0, 20));
    await store.appendBatch(newBatchId(), [...records.slice(20), victim]);
    const queuePrefix = `test-delete-${process.pid}`;
    const redis = new IORedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    try {
      await new ExampleBuffer(redis, { prefix: queuePrefix, ttlSeconds: 3_600 }).add([
        { ...victim, at: Date.now() },
      ]);
      const result = await cli(
        ['delete-examples', '--store', dir, '--text', victim.text, '--reason', 'erasure request #12'],
        { QUEUE_PREFIX: queuePrefix },
      );
      expect(result).toMatchObject({
        code: 0,
        stdout: expect.stringMatching(/^removed 2 stored record\(s\) .* and 1 waiting in Redis/),
      });
      const after = await store.read();
      expect(after.records.some((record) => record.id === victim.id)).toBe(false);
      expect(after.records).toHaveLength(39);
      expect(after.manifest.deletions).toEqual([
        expect.objectContaining({ id: victim.id, reason: 'erasure request #12', shards: expect.any(Array) }),
      ]);
      expect(
        after.manifest.shards.map((shard) => shard.path).every((path) => path.endsWith('.v2.jsonl')),
      ).toBe(true);
      expect(JSON.stringify(after.manifest)).not.toContain(victim.text);
      expect(await redis.hlen(`${queuePrefix}:examples:pending`)).toBe(0);
    } finally {
      await redis.del(
        `${queuePrefix}:examples:pending`,
        `${queuePrefix}:examples:pending-by-time`,
        `${queuePrefix}:examples:counters`,
      );
      redis.disconnect();
    }
    const bad = await cli(['delete-examples', '--store', dir, '--id', 'not-an-id', '--reason', 'x']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/is not an example id/);
    const badWait = await cli([
      'delete-examples',
      '--store',
      dir,
      '--id',
      victim.id,
      '--reason',
      'x',
      '--wait-seconds',
      'soon',
    ]);
    expect(badWait.code).toBe(1);
    expect(badWait.stderr).toMatch(/--wait-seconds must be a whole number of seconds, 0-3600/);
  });

  it('exits 1 when an export that may hold the examples is still running after --wait-seconds', async () => {
    const dir = join(work, 'deletable-busy');
    const victim = examples(1)[0];
    const queuePrefix = `test-delete-busy-${process.pid}`;
    const redis = new IORedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    try {
      // A drift monitor's export took the example into a batch and has not finished.
      const buffer = new ExampleBuffer(redis, { prefix: queuePrefix, ttlSeconds: 3_600 });
      await buffer.add([{ ...victim, at: Date.now() }]);
      await buffer.beginExport(newBatchId());
      const result = await cli(
        ['delete-examples', '--store', dir, '--id', victim.id, '--reason', 'erasure', '--wait-seconds', '1'],
        { QUEUE_PREFIX: queuePrefix },
      );
      expect(result).toMatchObject({
        code: 1,
        stdout: expect.stringMatching(/^removed 0 stored record\(s\) and 1 waiting in Redis/),
        stderr: expect.stringContaining('an export still running after 1 s may store these examples again'),
      });
      // What Redis held is gone all the same: the batch the export would retry from no longer has it.
      expect((await buffer.beginExport(newBatchId()))?.examples).toEqual([]);
    } finally {
      const keys = await redis.keys(`${queuePrefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });

  it('refuses an unknown command', async () => {
    expect((await cli(['deploy'])).code).toBe(1);
  });
});
