import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  gateVerdict,
  ModelRegistryError,
  openModelRegistry,
  parseModelLocation,
  type ModelRegistry,
} from './index';
import { gateReport, graphBytes, versionOf, writeModelDir } from './test/model-files';

const HUB = { endpoint: 'http://127.0.0.1:9' };

describe('a local model registry', () => {
  let root: string;
  let registryDir: string;
  let registry: ModelRegistry;
  const graphs = { old: graphBytes(1), gated: graphBytes(2), failed: graphBytes(3), copied: graphBytes(4) };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'model-registry-local-'));
    registryDir = join(root, 'registry');
    // A model without provenance: its date is the directory's mtime.
    await writeModelDir(
      join(registryDir, 'champion'),
      { graph: graphs.old },
      new Date('2026-01-01T00:00:00Z'),
    );
    await writeModelDir(join(registryDir, 'candidate-a'), {
      graph: graphs.gated,
      int8: true,
      retrain: { createdAt: '2026-03-01T09:00:00.000Z', seed: 7 },
      gate: gateReport(versionOf(graphs.gated)),
    });
    await writeModelDir(join(registryDir, 'candidate-b'), {
      graph: graphs.failed,
      retrain: { createdAt: '2026-03-02T09:00:00.000Z' },
      gate: gateReport(versionOf(graphs.failed), 'fail'),
    });
    // candidate-a's report copied beside another model.
    await writeModelDir(join(registryDir, 'candidate-c'), {
      graph: graphs.copied,
      retrain: { createdAt: '2026-03-03T09:00:00.000Z' },
      gate: gateReport(versionOf(graphs.gated)),
    });
    // Neither a staging folder nor a folder without a model is a version.
    await writeModelDir(join(registryDir, '.candidate-d.pulling'), { graph: graphBytes(5) });
    await mkdir(join(registryDir, 'notes'), { recursive: true });
    await writeFile(join(registryDir, 'notes', 'README.md'), 'not a model');
    await writeFile(join(registryDir, 'loose-file.json'), '{}');
    registry = openModelRegistry(registryDir, HUB);
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('lists its model directories newest first, with version, provenance and gate report', async () => {
    const versions = await registry.list();

    expect(registry.location).toBe(registryDir);
    expect(versions.map((info) => info.id)).toEqual([
      'candidate-c',
      'candidate-b',
      'candidate-a',
      'champion',
    ]);
    expect(versions[2]).toEqual({
      id: 'candidate-a',
      location: join(registryDir, 'candidate-a'),
      source: 'local',
      createdAt: '2026-03-01T09:00:00.000Z',
      modelVersion: versionOf(graphs.gated),
      provenance: { createdAt: '2026-03-01T09:00:00.000Z', seed: 7 },
      gate: {
        verdict: 'pass',
        reasons: ['holdout macro recall +0.031 (p 0.0021)', 'golden macro recall -0.002'],
        candidateVersion: versionOf(graphs.gated),
        createdAt: '2026-03-01T10:00:00.000Z',
        thresholds: { minGain: 0.01, maxP: 0.01, maxRegression: 0.01 },
      },
    });
    expect(versions[3]).toMatchObject({
      id: 'champion',
      createdAt: '2026-01-01T00:00:00.000Z',
      modelVersion: versionOf(graphs.old),
      provenance: null,
      gate: null,
    });
    expect(versions[3].branch).toBeUndefined();
  });

  it('gets a version by directory name or absolute location, and nothing else', async () => {
    expect((await registry.get('candidate-b'))?.modelVersion).toBe(versionOf(graphs.failed));
    expect((await registry.get(join(registryDir, 'champion')))?.id).toBe('champion');
    for (const missing of ['nope', 'notes', '.candidate-d.pulling', '..', '', join(root, 'registry2', 'x')]) {
      expect(await registry.get(missing)).toBeUndefined();
    }
  });

  it('passes the gate only for a passing report written for the graph beside it', async () => {
    const verdicts = Object.fromEntries(
      (await registry.list()).map((info) => [info.id, gateVerdict(info)] as const),
    );

    expect(verdicts['candidate-a']).toEqual({
      passed: true,
      why: expect.stringContaining(`the gate passed ${versionOf(graphs.gated)}`),
    });
    expect(verdicts['candidate-b']).toEqual({
      passed: false,
      why: expect.stringContaining('the gate did not pass'),
    });
    expect(verdicts['candidate-c']).toEqual({
      passed: false,
      why: expect.stringContaining(
        `is for ${versionOf(graphs.gated)}, not for its graph ${versionOf(graphs.copied)}`,
      ),
    });
    expect(verdicts.champion).toEqual({
      passed: false,
      why: expect.stringContaining('no readable gate report'),
    });
  });

  it('counts an unreadable gate report as none', async () => {
    const dir = join(root, 'broken-registry');
    await writeModelDir(join(dir, 'm'), { graph: graphBytes(6), gate: Buffer.from('{"verdict":"pass"') });

    const info = await openModelRegistry(dir, HUB).get('m');

    expect(info?.gate).toBeNull();
    expect(gateVerdict(info as NonNullable<typeof info>).passed).toBe(false);
  });

  it('notices a graph replaced in place', async () => {
    const dir = join(root, 'changing-registry');
    await writeModelDir(join(dir, 'm'), { graph: graphBytes(7) });
    const changing = openModelRegistry(dir, HUB);
    expect((await changing.get('m'))?.modelVersion).toBe(versionOf(graphBytes(7)));

    await writeFile(join(dir, 'm', 'onnx', 'model.onnx'), graphBytes(8, 5000));

    expect((await changing.get('m'))?.modelVersion).toBe(versionOf(graphBytes(8, 5000)));
  });

  it('materializes a version as its own directory, checking it holds the variant', async () => {
    const ref = { id: 'candidate-a', location: join(registryDir, 'candidate-a') };
    const options = { cacheDir: join(root, 'cache'), variant: 'fp32' as const };

    expect(await registry.materialize(ref, options)).toBe(ref.location);
    expect(await registry.materialize(ref, { ...options, variant: 'int8' })).toBe(ref.location);
    await expect(
      registry.materialize(
        { id: 'champion', location: join(registryDir, 'champion') },
        { ...options, variant: 'int8' },
      ),
    ).rejects.toThrow(
      `version champion: ${join(registryDir, 'champion')} has no onnx/model_quantized.onnx or model_quantized.onnx (needed for the int8 variant)`,
    );
    await expect(registry.materialize({ id: 'gone', location: join(root, 'gone') }, options)).rejects.toThrow(
      ModelRegistryError,
    );
  });

  it('says when the registry directory cannot be read', async () => {
    await expect(openModelRegistry(join(root, 'missing'), HUB).list()).rejects.toThrow(
      new RegExp(`^cannot read the model registry ${join(root, 'missing')}: ENOENT`),
    );
  });

  it('accepts a model whose graph sits at the top (model.onnx), as the worker does', async () => {
    const dir = join(root, 'flat-registry');
    await writeModelDir(join(dir, 'nested'), { graph: graphBytes(9) });
    await cp(join(dir, 'nested'), join(dir, 'flat'), { recursive: true });
    await rm(join(dir, 'flat', 'onnx'), { recursive: true });
    await writeFile(join(dir, 'flat', 'model.onnx'), graphBytes(9));

    const info = await openModelRegistry(dir, HUB).get('flat');

    expect(info?.modelVersion).toBe(versionOf(graphBytes(9)));
  });
});

describe('parseModelLocation', () => {
  it('reads Hub repositories with or without a revision, and directories', () => {
    expect(parseModelLocation('hf://models/acme/sentiment')).toEqual({ repo: 'acme/sentiment' });
    expect(parseModelLocation(' hf://models/acme/sentiment@0123abcd ')).toEqual({
      repo: 'acme/sentiment',
      revision: '0123abcd',
    });
    expect(parseModelLocation('hf://models/acme/sentiment@candidate-fp32-abc')).toEqual({
      repo: 'acme/sentiment',
      revision: 'candidate-fp32-abc',
    });
    expect(parseModelLocation('/srv/models/v@2')).toEqual({ dir: '/srv/models/v@2' });
    expect(parseModelLocation('models/x')).toEqual({ dir: join(process.cwd(), 'models/x') });
  });

  it.each([
    ['', 'a model location is empty'],
    ['hf://models/acme', 'must be hf://models/<owner>/<name>[@<revision>]'],
    ['hf://models/acme/sentiment@', 'is not a revision'],
    ['hf://models/acme/sentiment@a b', 'is not a revision'],
    ['s3://bucket/models', 'only hf://models/<owner>/<name>[@<revision>] or a directory is supported'],
    ['hf://datasets/acme/data', 'only hf://models/'],
  ])('refuses %j', (text, message) => {
    expect(() => parseModelLocation(text)).toThrow(message);
  });

  it('refuses a registry location that names one revision', () => {
    expect(() => openModelRegistry('hf://models/acme/sentiment@main', HUB)).toThrow(
      'names one revision; a registry is the whole repository: hf://models/acme/sentiment',
    );
  });
});

describe('gateVerdict and the rules a gate used', () => {
  const info = (thresholds: unknown) => ({
    id: 'v',
    location: '/v',
    source: 'local' as const,
    createdAt: null,
    modelVersion: 'fp32-aaaaaaaaaaaa',
    provenance: null,
    gate: {
      verdict: 'pass' as const,
      reasons: ['fine'],
      candidateVersion: 'fp32-aaaaaaaaaaaa',
      createdAt: '2026-01-01T00:00:00Z',
      thresholds: thresholds as never,
    },
  });

  it('refuses a pass judged by rules it could not fail, or by no rules', () => {
    expect(gateVerdict(info({ minGain: 0.01, maxP: 0.01, maxRegression: 0.01 })).passed).toBe(true);
    expect(gateVerdict(info({ minGain: -1, maxP: 0.01, maxRegression: 0.01 })).why).toMatch(/lax rules/);
    expect(gateVerdict(info({ minGain: 0.01, maxP: 1.01, maxRegression: 0.01 })).passed).toBe(false);
    expect(gateVerdict(info({ minGain: 0.01, maxP: 0.01, maxRegression: 1 })).passed).toBe(false);
    expect(gateVerdict(info(null)).why).toMatch(/names no rules/);
  });
});
