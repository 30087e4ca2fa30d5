import { MonitorEvent, scriptNamesBySha, scriptSha, summarizeTrace } from './monitor-trace';

const ADD = 'return redis.call("incr", KEYS[1])';
const FINISH = '-- finish\nreturn 1';

describe('scriptSha and scriptNamesBySha', () => {
  it('is the SHA1 EVALSHA names a script by', () => {
    // sha1 of the empty string, as `redis-cli SCRIPT LOAD ""` answers.
    expect(scriptSha('')).toBe('da39a3ee5e6b4b0d3255bfef95601890afd80709');
    const names = scriptNamesBySha([
      { name: 'addStandardJob', content: ADD },
      { name: 'moveToFinished', content: FINISH },
    ]);
    expect(names.get(scriptSha(ADD))).toBe('addStandardJob');
    expect(names.size).toBe(2);
  });
});

describe('summarizeTrace', () => {
  const names = scriptNamesBySha([
    { name: 'addStandardJob', content: ADD },
    { name: 'moveToFinished', content: FINISH },
  ]);
  const gateway = '127.0.0.1:50001';
  const worker = '127.0.0.1:50002';
  const tool = '127.0.0.1:50003';
  const job = (): MonitorEvent[] => [
    { source: gateway, args: ['evalsha', scriptSha(ADD), '9', 'k'] },
    { source: 'lua', args: ['incr', 'rm:sentiment:id'] },
    { source: 'lua', args: ['hmset', 'rm:sentiment:1', 'data', '{}'] },
    { source: 'lua', args: ['xadd', 'rm:sentiment:events', '*'] },
    { source: gateway, args: ['EVAL', 'return 1', '0'] },
    { source: worker, args: ['evalsha', scriptSha(FINISH), '14'] },
    { source: 'lua', args: ['zadd', 'rm:sentiment:completed', '1', '1'] },
    { source: worker, args: ['xadd', 'rm:predictions', '*'] },
    { source: worker, args: ['evalsha', 'b2b33f1d0000000000000000000000000000abcd', '1'] },
    { source: 'lua', args: ['hset', 'rm:prediction-index:1', 'a', 'b'] },
    { source: tool, args: ['memory', 'usage', 'rm:sentiment:1'] },
  ];

  it('splits commands per job into those clients send and those scripts run', () => {
    const summary = summarizeTrace([...job(), ...job()], 2, names, new Set([tool]));
    expect(summary.clientCommandsPerJob).toBe(5);
    expect(summary.scriptCommandsPerJob).toBe(5);
    expect(summary.byCommand.slice(0, 3)).toEqual([
      { command: 'evalsha', client: 3, script: 0 },
      { command: 'xadd', client: 1, script: 1 },
      { command: 'eval', client: 1, script: 0 },
    ]);
    expect(summary.byCommand.find((row) => row.command === 'memory')).toBeUndefined();
  });

  it('names each script and puts the commands after it down to it', () => {
    const { scripts } = summarizeTrace(job(), 1, names, new Set([tool]));
    expect(scripts).toEqual([
      { script: 'addStandardJob', perJob: 1, commandsPerCall: 3, commands: ['hmset', 'incr', 'xadd'] },
      { script: 'EVAL ' + scriptSha('return 1').slice(0, 8), perJob: 1, commandsPerCall: 0, commands: [] },
      { script: 'moveToFinished', perJob: 1, commandsPerCall: 1, commands: ['zadd'] },
      { script: 'sha b2b33f1d', perJob: 1, commandsPerCall: 1, commands: ['hset'] },
    ]);
  });

  it('needs jobs to divide by', () => {
    expect(() => summarizeTrace(job(), 0, names)).toThrow(/job/);
  });
});
