import { QueueCapacity } from './queue-capacity';

/** A waiting count that tests set, counting the reads that reach it. */
function depthSource(initial: number) {
  const source = {
    depth: initial,
    reads: 0,
    read: async () => {
      source.reads += 1;
      await new Promise((resolve) => setImmediate(resolve));
      return source.depth;
    },
  };
  return source;
}

it('lets concurrent reservations pass one reading only up to the limit', async () => {
  const source = depthSource(5);
  const capacity = new QueueCapacity(8, 1_000, source.read);
  const outcomes = await Promise.all(Array.from({ length: 10 }, () => capacity.reserve()));
  expect(outcomes.filter((outcome) => outcome.reserved)).toHaveLength(3);
  expect(outcomes.filter((outcome) => !outcome.reserved)).toEqual(
    Array.from({ length: 7 }, () => ({ reserved: false, depth: 8 })),
  );
  // One shared read for the ten decisions: the first reading, not re-read because it was taken for them.
  expect(source.reads).toBe(1);
});

it('counts its own additions on a cached reading and gives back slots of failed adds', async () => {
  const source = depthSource(0);
  const capacity = new QueueCapacity(2, 60_000, source.read);
  expect(await capacity.reserve()).toEqual({ reserved: true });
  capacity.release(true);
  expect(await capacity.reserve()).toEqual({ reserved: true });
  capacity.release(false); // the add failed: nothing joined the queue
  expect(await capacity.reserve()).toEqual({ reserved: true });
  capacity.release(true);
  expect(source.reads).toBe(1);
  // Two added on a reading of 0: full by the estimate, so the refusal is checked on a fresh reading.
  source.depth = 2;
  expect(await capacity.reserve()).toEqual({ reserved: false, depth: 2 });
  expect(source.reads).toBe(2);
});

it('re-reads before refusing on a stale estimate: jobs workers took since are not held against callers', async () => {
  const source = depthSource(0);
  const capacity = new QueueCapacity(2, 60_000, source.read);
  for (let i = 0; i < 2; i++) {
    await capacity.reserve();
    capacity.release(true);
  }
  source.depth = 0; // a worker took both
  expect(await capacity.reserve()).toEqual({ reserved: true });
  expect(source.reads).toBe(2);
  expect(await capacity.waitingDepth()).toBe(0);
});

it('says whether a job would be refused, on the same reading rules, without taking a slot', async () => {
  const source = depthSource(1);
  const capacity = new QueueCapacity(2, 60_000, source.read);
  // Room for one: no refusal, and asking twice leaves that one slot free.
  expect(await capacity.refusal()).toBeUndefined();
  expect(await capacity.refusal()).toBeUndefined();
  expect(await capacity.reserve()).toEqual({ reserved: true });
  capacity.release(true);
  source.depth = 2;
  // Full by the estimate: decided on a fresh reading, like a reservation.
  expect(await capacity.refusal()).toBe(2);
  expect(source.reads).toBe(2);
  // Every refusal on a reading taken for it: a worker took both since, so there is room again.
  source.depth = 0;
  expect(await capacity.refusal()).toBeUndefined();
  expect(await capacity.reserve()).toEqual({ reserved: true });
  expect(source.reads).toBe(3);
  expect(await new QueueCapacity(0, 60_000, source.read).refusal()).toBeUndefined();
});

it('reads again once the reading is older than the cache time', async () => {
  let now = 0;
  const source = depthSource(1);
  const capacity = new QueueCapacity(10, 100, source.read, () => now);
  await capacity.waitingDepth();
  now = 99;
  await capacity.waitingDepth();
  expect(source.reads).toBe(1);
  now = 100;
  source.depth = 4;
  expect(await capacity.waitingDepth()).toBe(4);
  expect(source.reads).toBe(2);
});

it('never reads without a limit', async () => {
  const source = depthSource(1_000);
  const capacity = new QueueCapacity(0, 100, source.read);
  expect(await capacity.reserve()).toEqual({ reserved: true });
  capacity.release(true);
  expect(source.reads).toBe(0);
});

it('propagates a failed read and tries again on the next call', async () => {
  let fail = true;
  const capacity = new QueueCapacity(3, 1_000, async () => {
    if (fail) throw new Error('Redis is down');
    return 0;
  });
  await expect(capacity.reserve()).rejects.toThrow('Redis is down');
  fail = false;
  expect(await capacity.reserve()).toEqual({ reserved: true });
});
