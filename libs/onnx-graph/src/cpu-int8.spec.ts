import { chooseWeightType, cpuFeaturesFrom, isSlowWeightTypeFor, readCpuFeatures } from './cpu-int8';

/** /proc/cpuinfo as Linux prints it (two processors; only the first one's flags are read). */
const cpuinfo = (flags: string) =>
  [
    'processor\t: 0',
    'vendor_id\t: AuthenticAMD',
    'model name\t: AMD EPYC',
    `flags\t\t: ${flags}`,
    '',
    'processor\t: 1',
    `flags\t\t: ${flags}`,
    '',
  ].join('\n');

const AVX2 = 'fpu sse4_1 sse4_2 avx fma avx2';
const AVX512_VNNI = `${AVX2} avx512f avx512bw avx512vl avx512_vnni`;

describe('--weight-type auto', () => {
  it.each([
    ['AVX-512 VNNI (Cascade Lake, Zen 4)', AVX512_VNNI, ['avx512_vnni']],
    ['AVX-VNNI (Alder Lake)', `${AVX2} avx_vnni`, ['avx_vnni']],
    ['AMX (Sapphire Rapids)', `${AVX512_VNNI} amx_bf16 amx_tile amx_int8`, ['avx512_vnni', 'amx_int8']],
  ])('picks int8 weights on a CPU with %s and names the flags', (_, flags, expected) => {
    const cpu = cpuFeaturesFrom(cpuinfo(flags), '/proc/cpuinfo');
    expect(cpu.int8Flags).toEqual(expected);
    const choice = chooseWeightType(cpu);
    expect(choice.weightType).toBe('int8');
    for (const flag of expected) expect(choice.reason).toContain(flag);
  });

  it('quotes the speed measured with AMX where the CPU has it, and with VNNI elsewhere', () => {
    const amx = chooseWeightType(
      cpuFeaturesFrom(cpuinfo(`${AVX512_VNNI} amx_tile amx_int8`), '/proc/cpuinfo'),
    );
    expect(amx.reason).toContain('ran 3.0x (with AMX) as fast as uint8 weights');
    const vnni = chooseWeightType(cpuFeaturesFrom(cpuinfo(AVX512_VNNI), '/proc/cpuinfo'));
    expect(vnni.reason).toContain('ran 1.7-2.0x as fast as uint8 weights');
  });

  it('keeps uint8 on AVX2 without VNNI, saying why', () => {
    const choice = chooseWeightType(cpuFeaturesFrom(cpuinfo(AVX2), '/proc/cpuinfo'));
    expect(choice).toEqual({
      weightType: 'uint8',
      reason: expect.stringMatching(/lists none of avx512_vnni, avx_vnni, amx_int8 .*saturate/),
    });
  });

  it('keeps uint8 when there are no x86 flags to read (ARM, a missing flags line, not Linux)', () => {
    const arm = cpuFeaturesFrom('processor\t: 0\nFeatures\t: fp asimd asimddp i8mm\n', '/proc/cpuinfo');
    expect(arm).toEqual({ int8Flags: [], source: '/proc/cpuinfo (no flags line)' });
    expect(chooseWeightType(arm).weightType).toBe('uint8');

    const mac = readCpuFeatures('darwin', () => {
      throw new Error('not read on darwin');
    });
    expect(mac).toEqual({ int8Flags: [], source: 'no CPU flags on darwin' });
    expect(chooseWeightType(mac)).toMatchObject({
      weightType: 'uint8',
      reason: expect.stringContaining('no CPU flags to go by (no CPU flags on darwin)'),
    });

    const unreadable = readCpuFeatures('linux', () => {
      throw new Error('EACCES');
    });
    expect(unreadable.source).toBe('/proc/cpuinfo unreadable: EACCES');
    expect(chooseWeightType(unreadable).weightType).toBe('uint8');
  });

  it("reads this machine's flags on Linux", () => {
    const read = jest.fn(() => cpuinfo(AVX512_VNNI));
    expect(readCpuFeatures('linux', read)).toMatchObject({
      int8Flags: ['avx512_vnni'],
      source: '/proc/cpuinfo',
    });
    expect(read).toHaveBeenCalledWith('/proc/cpuinfo');
  });
});

describe('isSlowWeightTypeFor', () => {
  const vnni = cpuFeaturesFrom(cpuinfo(AVX512_VNNI), '/proc/cpuinfo');
  const avx2 = cpuFeaturesFrom(cpuinfo(AVX2), '/proc/cpuinfo');

  it('flags uint8 (or partly uint8) weights on a VNNI CPU only', () => {
    expect(isSlowWeightTypeFor('uint8', vnni)).toBe(true);
    expect(isSlowWeightTypeFor('mixed', vnni)).toBe(true);
    expect(isSlowWeightTypeFor('int8', vnni)).toBe(false);
    expect(isSlowWeightTypeFor('none', vnni)).toBe(false);
    expect(isSlowWeightTypeFor('uint8', avx2)).toBe(false);
  });
});
