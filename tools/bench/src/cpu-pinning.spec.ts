import { fork, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pinnedCommand } from '@reputation-monitor/app-harness';
import { cpusOf, formatCpuList, parseCpuList, pinProcess, planPinning } from './cpu-pinning';
import { UsageError } from './usage-error';

describe('parseCpuList', () => {
  it.each([
    ['0', [0]],
    ['0-1,4', [0, 1, 4]],
    [' 2 , 0 ', [0, 2]],
    ['1-1,1', [1]],
  ])('reads %j', (list, cpus) => {
    expect(parseCpuList(list)).toEqual(cpus);
  });

  it.each(['', 'a', '3-1', '0,', '-1', '0-'])('refuses %j, naming the option', (list) => {
    expect(() => parseCpuList(list)).toThrow(UsageError);
    expect(() => parseCpuList(list)).toThrow(
      `--model-cpus takes CPU numbers and ranges such as 0 or 0-1,4, got "${list}"`,
    );
  });
});

describe('planPinning', () => {
  it('gives the model its CPUs and everything else the rest', () => {
    expect(planPinning([0], [0, 1])).toEqual({ model: '0', rest: '1' });
    expect(planPinning([1, 2], [0, 1, 2, 3])).toEqual({ model: '1,2', rest: '0,3' });
  });

  it('refuses a CPU this process may not use', () => {
    expect(() => planPinning([0, 5], [0, 1])).toThrow(
      '--model-cpus names CPU 5, which this process may not use (it may use 0,1)',
    );
  });

  it('refuses to leave nothing for the benchmark, the gateway and Redis', () => {
    expect(() => planPinning([0, 1], [0, 1])).toThrow(
      '--model-cpus 0,1 leaves no CPU for the benchmark, the gateway and Redis (this process may use 0,1)',
    );
  });
});

describe('pinning real processes', () => {
  // The last CPU this process may use: a real restriction wherever there are two or more.
  const allowed = cpusOf();
  const target = String(allowed[allowed.length - 1]);
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cpu-pinning-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reads what this process may use', () => {
    expect(allowed.length).toBeGreaterThan(0);
    expect(formatCpuList(allowed)).toMatch(/^\d+(,\d+)*$/);
  });

  it('moves every thread of a running process', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)'], { stdio: 'ignore' });
    try {
      await pinProcess(child.pid as number, target);
      expect(formatCpuList(cpusOf(child.pid as number))).toBe(target);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('starts a forked child on the CPUs given, with its IPC channel', async () => {
    const script = join(dir, 'report-cpus.js');
    await writeFile(
      script,
      "const s = require('fs').readFileSync('/proc/self/status', 'utf8'); process.send(/Cpus_allowed_list:\\s*(\\S+)/.exec(s)[1], () => process.exit(0));",
    );
    const [execPath, execArgv] = pinnedCommand(target, process.execPath, []);
    const child = fork(script, [], { execPath, execArgv, stdio: 'ignore' });
    const reported = await new Promise((resolve, reject) => {
      child.once('message', resolve);
      child.once('error', reject);
    });
    expect(reported).toBe(target);
  });

  it('fails clearly for a process that does not exist', async () => {
    await expect(pinProcess(2 ** 22 + 12345, target)).rejects.toThrow(/taskset/);
  });
});
