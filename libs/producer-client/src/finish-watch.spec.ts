import { EventEmitter } from 'node:events';
import type { QueueEvents } from 'bullmq';
import { FinishWatch } from './finish-watch';

// The queue's events arrive through a plain emitter here; the producer's integration spec runs the real
// QueueEvents against Redis.
function setup(maxWatched = 10) {
  const events = new EventEmitter();
  let now = 0;
  const watch = new FinishWatch<string>(events as unknown as QueueEvents, maxWatched, () => now);
  return {
    watch,
    complete: (jobId: string, returnvalue: string) => events.emit('completed', { jobId, returnvalue }),
    fail: (jobId: string, failedReason: string) => events.emit('failed', { jobId, failedReason }),
    advance: (ms: number) => (now += ms),
  };
}

it('hands a finish that came before the wait to the wait, once', async () => {
  const { watch, complete } = setup();
  watch.watch('a');
  complete('a', 'result');
  await expect(watch.wait('a', 1_000)).resolves.toEqual({ completed: true, result: 'result' });
  expect(watch.wait('a', 1_000)).toBeUndefined();
  expect(watch.size).toBe(0);
});

it('resolves waiting callers when the job finishes, and reports failures', async () => {
  const { watch, complete, fail } = setup();
  watch.watch('a');
  watch.watch('b');
  const a = watch.wait('a', 1_000);
  const b = watch.wait('b', 1_000);
  complete('a', 'ok');
  fail('b', 'boom');
  await expect(a).resolves.toEqual({ completed: true, result: 'ok' });
  await expect(b).resolves.toEqual({ completed: false, reason: 'boom' });
  expect(watch.size).toBe(0);
});

it('ignores jobs it does not watch and answers undefined for them', () => {
  const { watch, complete } = setup();
  complete('other', 'x');
  expect(watch.size).toBe(0);
  expect(watch.wait('other', 1_000)).toBeUndefined();
});

it('times out and forgets a job nobody else waits for', async () => {
  const { watch } = setup();
  watch.watch('slow');
  await expect(watch.wait('slow', 5)).resolves.toBe('timeout');
  expect(watch.size).toBe(0);
});

it('keeps a job someone waits on when another caller of the same id forgets it', async () => {
  const { watch, complete } = setup();
  watch.watch('shared');
  const waiting = watch.wait('shared', 1_000);
  watch.watch('shared'); // a second enqueue of the same id
  watch.forget('shared'); // ... that failed
  complete('shared', 'r');
  await expect(waiting).resolves.toEqual({ completed: true, result: 'r' });
  watch.watch('alone');
  watch.forget('alone');
  expect(watch.size).toBe(0);
});

it('ends every wait when it closes', async () => {
  const { watch } = setup();
  watch.watch('a');
  const waiting = watch.wait('a', 60_000);
  watch.close();
  await expect(waiting).resolves.toEqual({ closed: true });
  expect(watch.size).toBe(0);
});

it('stays within its bound, dropping the oldest entries nobody waits on', async () => {
  const { watch, complete } = setup(3);
  watch.watch('waited');
  const waited = watch.wait('waited', 1_000);
  for (const id of ['x', 'y', 'z']) watch.watch(id);
  expect(watch.size).toBe(3);
  expect(watch.wait('x', 1_000)).toBeUndefined(); // the oldest unwaited one made room
  complete('waited', 'still delivered');
  await expect(waited).resolves.toEqual({ completed: true, result: 'still delivered' });
});

it('drops finished results nobody claimed after five minutes', () => {
  const { watch, complete, advance } = setup();
  watch.watch('unclaimed');
  complete('unclaimed', 'r');
  advance(5 * 60_000);
  watch.watch('next');
  expect(watch.wait('unclaimed', 1_000)).toBeUndefined();
  expect(watch.size).toBe(1);
});
