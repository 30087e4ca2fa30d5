import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { InferenceSession } from 'onnxruntime-node';
import {
  cpuFeaturesFrom,
  describeQuantization,
  quantizeModelFile,
  readModelStructure,
} from '@reputation-monitor/onnx-graph';
import { generateSyntheticModel } from './generate';
import { parseCliOptions } from './quantize-cli';

const TOKENIZER_DIR = resolve(__dirname, '../../../../shared/data/roberta-tokenizer');
/** The first lines of /proc/cpuinfo on the 2-core EPYC development machine, and on an AVX2-only host. */
const EPYC = cpuFeaturesFrom(
  'processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse4_2 avx avx2 avx512f avx512bw avx512_vnni\n',
  '/proc/cpuinfo',
);
const AVX2 = cpuFeaturesFrom('processor\t: 0\nflags\t\t: fpu sse4_2 avx avx2 fma\n', '/proc/cpuinfo');

describe('model:quantize --weight-type', () => {
  it('defaults to auto: int8 weights on a VNNI CPU, and says why', () => {
    const { options, weightTypeReason } = parseCliOptions(['models/x'], () => EPYC);
    expect(options).toMatchObject({ weightType: 'int8', perChannel: true, operator: 'MatMulInteger' });
    expect(weightTypeReason).toMatch(/avx512_vnni \(from \/proc\/cpuinfo\)/);
  });

  it('picks uint8 on a CPU without VNNI', () => {
    const { options, weightTypeReason } = parseCliOptions(['models/x', '--weight-type', 'auto'], () => AVX2);
    expect(options.weightType).toBe('uint8');
    expect(weightTypeReason).toMatch(/lists none of avx512_vnni, avx_vnni, amx_int8/);
  });

  it('takes an explicit weight type as given, without reading the CPU', () => {
    const cpu = jest.fn(() => EPYC);
    expect(parseCliOptions(['models/x', '--weight-type', 'uint8'], cpu)).toMatchObject({
      options: { weightType: 'uint8' },
      weightTypeReason: 'asked for with --weight-type',
    });
    expect(cpu).not.toHaveBeenCalled();
    expect(() => parseCliOptions(['models/x', '--weight-type', 'int4'], cpu)).toThrow(
      '--weight-type must be auto, int8 or uint8, got "int4"',
    );
  });

  it('writes a graph ONNX Runtime serves, with the weight type auto chose', async () => {
    const workDir = await mkdtemp(join(tmpdir(), 'quantize-cli-'));
    try {
      const tiny = await generateSyntheticModel({
        outDir: join(workDir, 'tiny'),
        preset: 'tiny',
        tokenizerDir: TOKENIZER_DIR,
      });
      for (const [cpu, expected] of [
        [EPYC, 'int8'],
        [AVX2, 'uint8'],
      ] as const) {
        const { options } = parseCliOptions([tiny.outDir], () => cpu);
        const path = join(workDir, `${expected}.onnx`);
        await quantizeModelFile(tiny.modelPath, path, options);
        const session = await InferenceSession.create(path);
        await session.release();
        expect(describeQuantization(await readModelStructure(path))).toMatchObject({
          weightType: expected,
          perChannel: true,
        });
      }
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  });
});
