import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { cp, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Logger } from '@nestjs/common';
import { cpuFeaturesFrom, quantizeModelFile, type WeightType } from '@reputation-monitor/onnx-graph';
import {
  LoadOptions,
  LoadedModel,
  TextScore,
  readServedQuantization,
  slowGraphWarning,
} from './loaded-model';
import type { BatchStats } from './micro-batcher';
import { quantizationLabels, WorkerMetrics } from './worker-metrics';
import type { WorkerConfig } from './worker-config';

const ROOT = resolve(__dirname, '../../../..');
const VNNI = cpuFeaturesFrom('flags\t: sse4_2 avx avx2 avx512f avx512_vnni\n', '/proc/cpuinfo');
const AVX2 = cpuFeaturesFrom('flags\t: sse4_2 avx avx2\n', '/proc/cpuinfo');

let workDir: string;
/** The tiny synthetic model, and copies whose int8 graph has int8 / uint8 weights. */
let fp32Dir: string;
const int8Dirs = {} as Record<WeightType, string>;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'loaded-model-'));
  fp32Dir = join(workDir, 'tiny');
  execFileSync(join(ROOT, 'node_modules/.bin/tsx'), [
    join(ROOT, 'tools/synthetic-model/src/cli.ts'),
    ...['--preset', 'tiny', '--out', fp32Dir],
  ]);
  for (const weightType of ['int8', 'uint8'] as const) {
    const dir = join(workDir, weightType);
    await cp(fp32Dir, dir, { recursive: true });
    await quantizeModelFile(join(dir, 'onnx/model.onnx'), join(dir, 'onnx/model_quantized.onnx'), {
      weightType,
    });
    int8Dirs[weightType] = dir;
  }
}, 60_000);

afterAll(() => rm(workDir, { recursive: true, force: true }));

function load(
  dir: string,
  variant: 'fp32' | 'int8',
  cpu = VNNI,
  lanes: Pick<LoadOptions, 'intraOpThreads' | 'inferenceLanes' | 'soloLane' | 'narrow'> = {
    intraOpThreads: 1,
    inferenceLanes: 0,
    soloLane: 'auto',
  },
): Promise<LoadedModel> {
  return LoadedModel.load({
    dir,
    variant,
    name: 'tiny',
    versionId: 'static',
    ...lanes,
    allowSpinning: false,
    maxTokens: 128,
    batch: { maxTokens: 1024, maxTexts: 16, maxPaddingRatio: 0.5, maxWaitMs: 0 },
    onBatch: () => undefined,
    onTokenized: () => undefined,
    cpu,
  });
}

describe('the served graph’s quantization', () => {
  let warn: jest.SpyInstance;
  beforeEach(() => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => warn.mockRestore());

  it.each([
    ['int8', false],
    ['uint8', true],
  ] as const)(
    'is read from a graph with %s weights, which is slow on a VNNI CPU: %s',
    async (weightType, slow) => {
      const model = await load(int8Dirs[weightType], 'int8');
      try {
        expect(model.quantization).toEqual({
          weightType,
          perChannel: true,
          opTypes: ['DynamicQuantizeLinear', 'MatMulInteger'],
          quantizedWeights: 12,
          slowForCpu: slow,
        });
        // The session serves it either way.
        const [score] = await model.score(['I love this so much!']);
        expect(score.tokens).toBeGreaterThan(2);
        const warnings = warn.mock.calls.map(([message]) => String(message));
        expect(warnings.some((message) => message.includes('avx512_vnni'))).toBe(slow);
      } finally {
        await model.close();
      }
    },
  );

  it('warns for uint8 weights on a VNNI CPU only, with the measured factor and the fix', async () => {
    const path = join(int8Dirs.uint8, 'onnx/model_quantized.onnx');
    const onVnni = await readServedQuantization(path, VNNI);
    expect(slowGraphWarning(path, onVnni, VNNI)).toMatch(
      /has uint8 weights, but this CPU has avx512_vnni: signed int8 weights ran [\d.-]+x as fast here .*npm run model:quantize/,
    );
    const onAvx2 = await readServedQuantization(path, AVX2);
    expect(onAvx2?.slowForCpu).toBe(false);
    expect(slowGraphWarning(path, onAvx2, AVX2)).toBeUndefined();

    const int8Path = join(int8Dirs.int8, 'onnx/model_quantized.onnx');
    expect(slowGraphWarning(int8Path, await readServedQuantization(int8Path, VNNI), VNNI)).toBeUndefined();
  });

  it('is none for the fp32 graph, and unknown (with a warning, still served) for an unreadable file', async () => {
    const model = await load(fp32Dir, 'fp32');
    try {
      expect(model.quantization).toMatchObject({ weightType: 'none', opTypes: [], slowForCpu: false });
    } finally {
      await model.close();
    }
    expect(await readServedQuantization(join(workDir, 'missing.onnx'), VNNI)).toBeUndefined();
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('cannot tell how'));
  });

  it('becomes bounded labels of sentiment_model_quantization_info', async () => {
    const metrics = new WorkerMetrics({ metricSources: [] } as unknown as WorkerConfig);
    const quantization = await readServedQuantization(
      join(int8Dirs.uint8, 'onnx/model_quantized.onnx'),
      VNNI,
    );
    metrics.models([
      {
        name: 'tiny',
        version: 'int8-abc',
        dtype: 'int8',
        role: 'production',
        quantization,
        lanes: { count: 2, solo: true },
      },
      { name: 'tiny', version: 'fp32-def', dtype: 'fp32', role: 'candidate-shadow' },
    ]);
    const text = await metrics.registry.metrics();
    expect(text).toContain(
      'sentiment_model_quantization_info{name="tiny",version="int8-abc",weight_type="uint8",per_channel="true",' +
        'ops="DynamicQuantizeLinear+MatMulInteger",slow_for_cpu="true",app="inference-worker"} 1',
    );
    expect(text).toContain(
      'sentiment_model_quantization_info{name="tiny",version="fp32-def",weight_type="unknown",per_channel="unknown",' +
        'ops="unknown",slow_for_cpu="false",app="inference-worker"} 1',
    );
    expect(text).toContain(
      'sentiment_inference_lanes{name="tiny",version="int8-abc",solo_lane="true",app="inference-worker"} 2',
    );
    expect(text).not.toContain('sentiment_inference_lanes{name="tiny",version="fp32-def"');
    // The model-info series keep their labels.
    expect(text).toContain(
      'sentiment_model_info{name="tiny",version="int8-abc",dtype="int8",role="production",app="inference-worker"} 1',
    );
    expect(
      quantizationLabels({
        weightType: 'none',
        perChannel: undefined,
        opTypes: [],
        quantizedWeights: 0,
        slowForCpu: false,
      }),
    ).toEqual({ weight_type: 'none', per_channel: 'none', ops: 'none', slow_for_cpu: 'false' });
  });
});

/** Threads of this process (the inference threads and ONNX Runtime's pool threads among them). */
const threads = () => readdirSync('/proc/self/task').length;

async function waitForThreads(count: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (threads() !== count && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 20));
  expect(threads()).toBe(count);
}

/** Loaded narrow (one session of both cores), to be widened to two lanes of one thread. */
const loadNarrow = (dir: string, soloLane: LoadOptions['soloLane']) =>
  load(dir, 'fp32', VNNI, { intraOpThreads: 2, inferenceLanes: 2, soloLane, narrow: true });

describe('inference lanes', () => {
  const texts = Array.from(
    { length: 24 },
    (_, index) => `tweet number ${index} ${'so good '.repeat(index % 5)}`,
  );

  it('serves on two lanes and a solo lane the same scores as on one session', async () => {
    const single = await load(fp32Dir, 'fp32', VNNI, {
      intraOpThreads: 1,
      inferenceLanes: 0,
      soloLane: 'auto',
    });
    const laned = await load(fp32Dir, 'fp32', VNNI, { intraOpThreads: 2, inferenceLanes: 2, soloLane: 'on' });
    try {
      expect([single.lanes, single.hasSoloLane]).toEqual([1, false]);
      expect([laned.lanes, laned.hasSoloLane]).toEqual([2, true]);
      const expected = await single.score(texts);
      // One text per job, all at once: both lanes (and, when idle, the solo lane) take runs.
      const served = await Promise.all(texts.map((text) => laned.score([text])));
      served.flat().forEach((score, index) => {
        expect(score.label).toBe(expected[index].label);
        expect(score.scores.positive).toBeCloseTo(expected[index].scores.positive, 5);
      });
      await laned.idle();
      expect(laned.busy).toBe(false);
    } finally {
      await Promise.all([single.close(), laned.close()]);
    }
  });

  it('loads narrow on one session of every core, then widens to the lanes while serving, losing nothing', async () => {
    const model = await loadNarrow(fp32Dir, 'on');
    try {
      expect([model.lanes, model.hasSoloLane, model.narrow]).toEqual([1, false, true]);
      const expected = await model.score(texts);
      // Three clients keep scoring, one text after the other, from before the lanes open until after the
      // switch to them, so runs are in flight on the narrow session when it happens.
      let widened = false;
      const served: Array<{ index: number; score: TextScore }> = [];
      const client = async (offset: number) => {
        for (let n = offset; !widened || n < offset + 3 * texts.length; n += 3) {
          const index = n % texts.length;
          const [score] = await model.score([texts[index]]);
          served.push({ index, score });
        }
      };
      const clients = Promise.all([0, 1, 2].map(client));
      expect(await model.widen()).toBe(true);
      widened = true;
      await clients;
      expect([model.lanes, model.hasSoloLane, model.narrow]).toEqual([2, true, false]);
      expect(served.length).toBeGreaterThanOrEqual(3 * texts.length);
      served.forEach(({ index, score }) => {
        expect(score.label).toBe(expected[index].label);
        expect(score.scores.positive).toBeCloseTo(expected[index].scores.positive, 5);
      });
      // Widening again, or a model that was never narrow, changes nothing.
      expect(await model.widen()).toBe(false);
      expect([model.lanes, model.hasSoloLane]).toEqual([2, true]);
    } finally {
      await model.close();
    }
  });

  it('closes the narrow session after widening when the solo lane is off, and leaves no thread behind', async () => {
    const before = threads();
    const model = await loadNarrow(fp32Dir, 'off');
    // One session of two threads: its inference thread and one ONNX Runtime pool thread.
    const narrowThreads = threads() - before;
    const inFlight = model.score(texts);
    await model.widen();
    await inFlight;
    await model.idle();
    expect([model.lanes, model.hasSoloLane]).toEqual([2, false]);
    // Two lanes of one thread each: their inference threads only; the narrow session's two are gone.
    await waitForThreads(before + 2);
    expect(narrowThreads).toBe(2);
    await model.retire();
    await waitForThreads(before);
  });

  it('keeps serving narrow when the lanes cannot open, and widens on a later try', async () => {
    const dir = join(workDir, 'widen-fails');
    await cp(fp32Dir, dir, { recursive: true });
    const model = await loadNarrow(dir, 'on');
    try {
      const graph = join(dir, 'onnx/model.onnx');
      await rename(graph, `${graph}.aside`);
      await expect(model.widen()).rejects.toThrow();
      expect([model.lanes, model.narrow]).toEqual([1, true]);
      await expect(model.score(texts.slice(0, 3))).resolves.toHaveLength(3);
      await rename(`${graph}.aside`, graph);
      await model.widen();
      expect([model.lanes, model.hasSoloLane, model.narrow]).toEqual([2, true, false]);
      await expect(model.score(texts.slice(0, 3))).resolves.toHaveLength(3);
    } finally {
      await model.close();
    }
  });

  it.each(['on', 'auto'] as const)(
    'closes the lanes it opened when the model is retired while it widens (solo lane %s)',
    async (soloLane) => {
      const before = threads();
      const model = await loadNarrow(fp32Dir, soloLane);
      const widening = model.widen();
      await model.retire();
      await expect(widening).resolves.toBe(false);
      expect(model.narrow).toBe(false);
      await expect(model.score(['after retire'])).rejects.toThrow('model is closed');
      await waitForThreads(before);
    },
  );

  it('gives up widening when superseded, staying narrow for a later try', async () => {
    const before = threads();
    const model = await loadNarrow(fp32Dir, 'off');
    const narrowThreads = threads();
    try {
      await expect(model.widen(() => true)).resolves.toBe(false);
      expect([model.lanes, model.narrow]).toEqual([1, true]);
      await waitForThreads(narrowThreads);
      await expect(model.score(texts.slice(0, 2))).resolves.toHaveLength(2);
      await expect(model.widen()).resolves.toBe(true);
      expect([model.lanes, model.narrow]).toEqual([2, false]);
    } finally {
      await model.close();
    }
    await waitForThreads(before);
  });

  /** Two lanes of one thread and a solo lane of two, judged by `pays` and timed again every 20 ms, 3 times. */
  const loadOnTrial = (
    pays: () => boolean,
    onLanesChanged?: () => void,
    narrow = false,
    onBatch: (stats: BatchStats) => void = () => undefined,
    quietElsewhere?: () => boolean,
  ) =>
    LoadedModel.load({
      dir: fp32Dir,
      variant: 'fp32',
      name: 'tiny',
      versionId: 'static',
      intraOpThreads: 2,
      inferenceLanes: 2,
      soloLane: 'auto',
      allowSpinning: false,
      maxTokens: 128,
      batch: { maxTokens: 1024, maxTexts: 16, maxPaddingRatio: 0.5, maxWaitMs: 0 },
      onBatch,
      onTokenized: () => undefined,
      onLanesChanged,
      soloTrial: { delaysMs: [20, 20, 20], pays },
      narrow,
      quietElsewhere,
    });

  /** A judge that finds the solo lane paying only once `quiet()` is called, and the lanes' change that follows. */
  function quietLater() {
    let quiet = false;
    let changed: () => void = () => undefined;
    const lanesChanged = new Promise<void>((resolve) => (changed = resolve));
    return { pays: () => quiet, quiet: () => (quiet = true), changed: () => changed(), lanesChanged };
  }

  it('keeps a solo lane that did not pay at load once a later timing, while idle, shows it paying', async () => {
    const before = threads();
    const judge = quietLater();
    let lastRun: BatchStats | undefined;
    const model = await loadOnTrial(judge.pays, judge.changed, false, (stats) => (lastRun = stats));
    try {
      // On trial: not used, but open (two lanes' threads, and the solo session's two).
      expect([model.lanes, model.hasSoloLane]).toEqual([2, false]);
      expect(threads() - before).toBe(4);
      const expected = await model.score(texts.slice(0, 4));
      await model.score(texts.slice(0, 1));
      expect(lastRun?.solo).toBeUndefined();
      judge.quiet();
      await judge.lanesChanged;
      expect([model.lanes, model.hasSoloLane]).toEqual([2, true]);
      expect(threads() - before).toBe(4);
      // A lone text now runs on the solo lane, and every text still gets its scores.
      await model.score(texts.slice(0, 1));
      expect(lastRun?.solo).toBe(true);
      await expect(model.score(texts.slice(0, 4))).resolves.toEqual(expected);
      await expect(Promise.all(texts.slice(0, 4).map((text) => model.score([text])))).resolves.toEqual(
        expected.map((score) => [score]),
      );
    } finally {
      await model.close();
    }
    await waitForThreads(before);
  });

  it('closes a solo lane that still does not pay after its last timing, and serves on', async () => {
    const before = threads();
    let changed = false;
    const model = await loadOnTrial(
      () => false,
      () => (changed = true),
    );
    try {
      expect(threads() - before).toBe(4);
      // The trial's three timings, 20 ms apart, then the solo session's two threads go.
      await waitForThreads(before + 2);
      expect([model.lanes, model.hasSoloLane, changed]).toEqual([2, false, false]);
      await expect(model.score(texts.slice(0, 3))).resolves.toHaveLength(3);
    } finally {
      await model.close();
    }
    await waitForThreads(before);
  });

  it('times a solo lane on trial only while the versions beside it have nothing to run either', async () => {
    const before = threads();
    let othersBusy = true;
    const model = await loadOnTrial(
      () => false,
      undefined,
      false,
      undefined,
      () => !othersBusy,
    );
    try {
      // Ten times the trial's three 20 ms spells: no timing was counted, so its session is still open.
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(threads() - before).toBe(4);
      othersBusy = false;
      await waitForThreads(before + 2);
      expect([model.lanes, model.hasSoloLane]).toEqual([2, false]);
    } finally {
      await model.close();
    }
    await waitForThreads(before);
  });

  it('puts the narrow session on trial when widening finds it does not pay, and keeps it once it does', async () => {
    const before = threads();
    const judge = quietLater();
    const model = await loadOnTrial(judge.pays, judge.changed, true);
    try {
      expect([model.lanes, model.narrow]).toEqual([1, true]);
      await expect(model.widen()).resolves.toBe(true);
      expect([model.lanes, model.hasSoloLane]).toEqual([2, false]);
      expect(threads() - before).toBe(4);
      judge.quiet();
      await judge.lanesChanged;
      expect([model.lanes, model.hasSoloLane]).toEqual([2, true]);
      await expect(model.score(texts.slice(0, 2))).resolves.toHaveLength(2);
    } finally {
      await model.close();
    }
    await waitForThreads(before);
  });

  it('closes a solo lane on trial with the model', async () => {
    const before = threads();
    const model = await loadOnTrial(() => false);
    expect(threads() - before).toBe(4);
    await model.retire();
    await waitForThreads(before);
  });

  it('opens no solo lane when it is turned off, and closes every session on retire', async () => {
    const model = await load(fp32Dir, 'fp32', VNNI, {
      intraOpThreads: 2,
      inferenceLanes: 0,
      soloLane: 'off',
    });
    expect([model.lanes, model.hasSoloLane]).toEqual([2, false]);
    await model.retire();
    await expect(model.score(['after retire'])).rejects.toThrow('model is closed');
  });
});
