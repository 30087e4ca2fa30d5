import { commandsPerJob, parseCommandStats, parseInfo, readingDelta, readingFromInfo } from './redis-info';

/** INFO as Redis 7 writes it: CRLF lines, section headers, key:value, commandstats as k=v lists. */
const info = (cpu: { sys: number; user: number }, commands: number, evalsha: number, xadd: number) =>
  [
    '# Server',
    'redis_version:7.0.15',
    'process_id:4242',
    '',
    '# Clients',
    'connected_clients:12',
    '',
    '# Memory',
    `used_memory:${1_000_000 + commands * 10}`,
    'used_memory_human:1.00M',
    '',
    '# Stats',
    `total_commands_processed:${commands}`,
    `total_net_input_bytes:${commands * 50}`,
    `total_net_output_bytes:${commands * 20}`,
    `total_reads_processed:${commands / 5}`,
    '',
    '# CPU',
    `used_cpu_sys:${cpu.sys.toFixed(6)}`,
    `used_cpu_user:${cpu.user.toFixed(6)}`,
    `used_cpu_sys_main_thread:${(cpu.sys * 0.9).toFixed(6)}`,
    `used_cpu_user_main_thread:${(cpu.user * 0.9).toFixed(6)}`,
    '',
    '# Commandstats',
    `cmdstat_evalsha:calls=${evalsha},usec=${evalsha * 70},usec_per_call=70.00,rejected_calls=0,failed_calls=0`,
    `cmdstat_xadd:calls=${xadd},usec=${xadd * 4},usec_per_call=4.00,rejected_calls=0,failed_calls=0`,
    'cmdstat_info:calls=7,usec=300,usec_per_call=42.86,rejected_calls=0,failed_calls=0',
    'cmdstat_config|resetstat:calls=1,usec=96,usec_per_call=96.00,rejected_calls=0,failed_calls=0',
  ].join('\r\n');

describe('parseInfo', () => {
  it('reads key:value lines and skips headers and blank lines', () => {
    const fields = parseInfo('# CPU\r\nused_cpu_sys:1.5\r\n\r\nrole:master\r\nweird line\r\n');
    expect([...fields]).toEqual([
      ['used_cpu_sys', '1.5'],
      ['role', 'master'],
    ]);
  });

  it('keeps colons inside values', () => {
    expect(parseInfo('executable:/usr/bin/redis-server\nconfig:a:b').get('config')).toBe('a:b');
  });
});

describe('parseCommandStats', () => {
  it('reads calls and usec per command, subcommands included', () => {
    const stats = parseCommandStats(parseInfo(info({ sys: 1, user: 2 }, 100, 6, 5)));
    expect(stats.evalsha).toEqual({ calls: 6, usec: 420 });
    expect(stats['config|resetstat']).toEqual({ calls: 1, usec: 96 });
    expect(stats.info.calls).toBe(7);
  });
});

describe('readingFromInfo', () => {
  it('sums system and user CPU, for the process and its main thread', () => {
    const reading = readingFromInfo(info({ sys: 1.25, user: 2.5 }, 1000, 6, 5));
    expect(reading.cpuSeconds).toBeCloseTo(3.75, 9);
    expect(reading.mainThreadCpuSeconds).toBeCloseTo(3.375, 6);
    expect(reading).toMatchObject({
      commandsProcessed: 1000,
      netInputBytes: 50_000,
      netOutputBytes: 20_000,
      readsProcessed: 200,
      usedMemoryBytes: 1_010_000,
      connectedClients: 12,
    });
  });

  it('names the field it cannot find', () => {
    expect(() => readingFromInfo('# CPU\nused_cpu_user:1\n')).toThrow(/used_cpu_sys/);
  });

  it('leaves out main-thread CPU and reads on a Redis without them', () => {
    const old = info({ sys: 1, user: 1 }, 10, 1, 1)
      .split('\r\n')
      .filter((line) => !/main_thread|reads_processed/.test(line))
      .join('\n');
    const reading = readingFromInfo(old);
    expect(reading.mainThreadCpuSeconds).toBeUndefined();
    expect(reading.readsProcessed).toBeUndefined();
  });
});

describe('readingDelta and commandsPerJob', () => {
  const before = readingFromInfo(info({ sys: 1, user: 2 }, 1000, 100, 50));
  const after = readingFromInfo(info({ sys: 1.5, user: 3 }, 3000, 700, 550));

  it('subtracts every counter and keeps only commands that ran', () => {
    const delta = readingDelta(before, after);
    expect(delta.cpuSeconds).toBeCloseTo(1.5, 9);
    expect(delta.mainThreadCpuSeconds).toBeCloseTo(1.35, 6);
    expect(delta.commandsProcessed).toBe(2000);
    expect(delta.netInputBytes).toBe(100_000);
    expect(delta.netOutputBytes).toBe(40_000);
    expect(delta.readsProcessed).toBe(400);
    expect(delta.usedMemoryBytes).toBe(20_000);
    expect(delta.commands).toEqual({
      evalsha: { calls: 600, usec: 42_000 },
      xadd: { calls: 500, usec: 2_000 },
    });
  });

  it('counts a command that appears only in the later reading in full', () => {
    const later = readingFromInfo(
      `${info({ sys: 2, user: 3 }, 3000, 700, 550)}\r\ncmdstat_mget:calls=9,usec=18,usec_per_call=2.00`,
    );
    expect(readingDelta(before, later).commands.mget).toEqual({ calls: 9, usec: 18 });
  });

  it("divides by jobs, most frequent first, without the tool's own commands", () => {
    const delta = readingDelta(before, after);
    delta.commands.info = { calls: 4, usec: 100 };
    const perJob = commandsPerJob(delta, 100);
    expect(perJob.byCommand).toEqual([
      { command: 'evalsha', perJob: 6, usecPerJob: 420 },
      { command: 'xadd', perJob: 5, usecPerJob: 20 },
    ]);
    expect(perJob.all).toBe(11);
    expect(perJob.scripts).toBe(6);
  });
});
