import { parseMachineBusyTicks, parseProcStat, parseVmRssKb } from './process-metrics';

describe('parseProcStat', () => {
  it('adds user and system time, whatever the command name holds', () => {
    // Fields after the name: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
    const line =
      '4242 (node (worker) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 350 125 0 0 20 0 11 0 100 1000000 5000';
    expect(parseProcStat(line)).toEqual({ cpuTicks: 475 });
  });

  it('refuses what is not a stat line', () => {
    expect(() => parseProcStat('garbage')).toThrow();
    expect(() => parseProcStat('1 (x) S 1')).toThrow(/utime/);
  });
});

describe('parseVmRssKb', () => {
  it('reads VmRSS from /proc/<pid>/status', () => {
    expect(parseVmRssKb('Name:\tnode\nVmHWM:\t  900000 kB\nVmRSS:\t  812344 kB\nThreads:\t11\n')).toBe(
      812344,
    );
    expect(parseVmRssKb('Name:\tkthreadd\n')).toBeUndefined();
  });
});

describe('parseMachineBusyTicks', () => {
  it('adds user, nice, system, irq, softirq and steal of the all-cores line', () => {
    const stat = 'cpu  100 5 30 9000 7 2 3 11 0 0\ncpu0 50 2 15 4500 3 1 1 5 0 0\nintr 12345\n';
    expect(parseMachineBusyTicks(stat)).toBe(100 + 5 + 30 + 2 + 3 + 11);
  });

  it('refuses text without the cpu line', () => {
    expect(() => parseMachineBusyTicks('intr 1\n')).toThrow(/cpu line/);
  });
});
