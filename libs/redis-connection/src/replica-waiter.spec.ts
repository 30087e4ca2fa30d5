import { EventEmitter } from 'node:events';
import { ReplicaWaitResult, ReplicaWaiter, WaitClient, replicaLags } from './replica-waiter';

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((ok, fail) => ((resolve = ok), (reject = fail)));
  return { promise, resolve, reject };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

const INFO_ONE_REPLICA = [
  '# Replication',
  'role:master',
  'connected_slaves:1',
  'slave0:ip=127.0.0.1,port=7001,state=online,offset=1234,lag=0',
  'master_repl_offset:1234',
].join('\r\n');
const INFO_NO_REPLICA = '# Replication\r\nrole:master\r\nconnected_slaves:0\r\n';

/** A connection whose WAITs are answered by the test, one at a time, in the order they were sent. */
class FakeConnection extends EventEmitter implements WaitClient {
  readonly waits: { numreplicas: number; timeout: number; answer: Deferred<number> }[] = [];
  infoCalls = 0;
  info_ = INFO_ONE_REPLICA;

  wait(numreplicas: number, timeout: number): Promise<number> {
    const answer = deferred<number>();
    this.waits.push({ numreplicas, timeout, answer });
    return answer.promise;
  }

  async info(): Promise<string> {
    this.infoCalls += 1;
    return this.info_;
  }
}

describe('ReplicaWaiter', () => {
  it('sends one WAIT for a lone write and reports the acknowledgement', async () => {
    const connection = new FakeConnection();
    const results: ReplicaWaitResult[] = [];
    const waiter = new ReplicaWaiter(connection, {
      replicas: 1,
      timeoutMs: 250,
      onResult: (r) => results.push(r),
    });
    const confirmed = waiter.confirm();
    await flush();
    expect(connection.waits.map(({ numreplicas, timeout }) => [numreplicas, timeout])).toEqual([[1, 250]]);
    connection.waits[0].answer.resolve(1);
    expect(await confirmed).toMatchObject({ outcome: 'acked', wanted: 1, acked: 1 });
    expect(results).toHaveLength(1);
    expect(waiter.stats).toEqual({ confirms: 1, waits: 1 });
  });

  it('coalesces: callers arriving while a WAIT is out share the next one, never the one already sent', async () => {
    const connection = new FakeConnection();
    const waiter = new ReplicaWaiter(connection, { replicas: 1 });
    const first = waiter.confirm();
    await flush();
    expect(connection.waits).toHaveLength(1);

    // 50 writes answered while the first WAIT is out: it may have been sent before them, so they wait for the next.
    const later = Array.from({ length: 50 }, () => waiter.confirm());
    let laterSettled = false;
    void Promise.all(later).then(() => (laterSettled = true));
    await flush();
    expect(connection.waits).toHaveLength(1); // the next one is not sent while the first is out

    connection.waits[0].answer.resolve(1);
    expect((await first).outcome).toBe('acked');
    await flush();
    expect(laterSettled).toBe(false);
    expect(connection.waits).toHaveLength(2); // one WAIT for all 50

    connection.waits[1].answer.resolve(1);
    expect((await Promise.all(later)).every((result) => result.outcome === 'acked')).toBe(true);
    expect(waiter.stats).toEqual({ confirms: 51, waits: 2 });
  });

  it('keeps at most one WAIT out and one queued, however many callers come', async () => {
    const connection = new FakeConnection();
    const waiter = new ReplicaWaiter(connection, { replicas: 2 });
    const all: Promise<ReplicaWaitResult>[] = [];
    for (let round = 0; round < 5; round += 1) {
      for (let i = 0; i < 20; i += 1) all.push(waiter.confirm());
      await flush();
      expect(connection.waits.filter((wait) => wait.numreplicas === 2)).toHaveLength(round + 1);
      connection.waits[round].answer.resolve(2);
      await flush();
    }
    connection.waits[5].answer.resolve(2);
    await Promise.all(all);
    expect(waiter.stats).toEqual({ confirms: 100, waits: 6 });
  });

  it('reports a timeout as a result, not an error, and sends the next WAIT after a failed one', async () => {
    const connection = new FakeConnection();
    const waiter = new ReplicaWaiter(connection, { replicas: 1 });
    const first = waiter.confirm();
    await flush();
    const second = waiter.confirm();
    connection.waits[0].answer.reject(new Error('Connection is closed.'));
    await expect(first).rejects.toThrow('Connection is closed.');
    await flush();
    connection.waits[1].answer.resolve(0);
    expect(await second).toMatchObject({ outcome: 'timeout', wanted: 1, acked: 0 });
  });

  it('confirms nothing when the connection closed while its WAIT was out (ioredis sends it again)', async () => {
    const connection = new FakeConnection();
    const results: ReplicaWaitResult[] = [];
    const waiter = new ReplicaWaiter(connection, { replicas: 1, onResult: (r) => results.push(r) });
    const confirmed = waiter.confirm();
    await flush();
    connection.emit('close');
    // The WAIT answered on the new connection covers none of the writes made on the old one.
    connection.waits[0].answer.resolve(1);
    await expect(confirmed).rejects.toThrow(/connection closed while the write was being confirmed/);
    expect(results.map((result) => result.outcome)).toEqual(['error']);
    // The next write, on the new connection, is confirmed as usual.
    const next = waiter.confirm();
    await flush();
    connection.waits[1].answer.resolve(1);
    expect(await next).toMatchObject({ outcome: 'acked' });
  });

  it('reports failures to onResult as errors', async () => {
    const connection = new FakeConnection();
    const outcomes: string[] = [];
    const waiter = new ReplicaWaiter(connection, { replicas: 1, onResult: (r) => outcomes.push(r.outcome) });
    const confirmed = waiter.confirm();
    await flush();
    connection.waits[0].answer.reject(new Error('Connection is closed.'));
    await expect(confirmed).rejects.toThrow();
    expect(outcomes).toEqual(['error']);
  });

  it('sends nothing when off', async () => {
    const connection = new FakeConnection();
    const waiter = new ReplicaWaiter(connection, { replicas: 0 });
    expect(await waiter.confirm()).toMatchObject({ outcome: 'skipped', wanted: 0 });
    expect(connection.waits).toHaveLength(0);
    expect(connection.infoCalls).toBe(0);
  });

  describe('auto', () => {
    it('waits for one replica while the primary has a healthy one, reading INFO at most once per refresh', async () => {
      let now = 0;
      const connection = new FakeConnection();
      const waiter = new ReplicaWaiter(connection, { refreshMs: 1_000, maxLagSeconds: 3, now: () => now });
      const confirms = [waiter.confirm(), waiter.confirm()];
      await flush();
      expect(connection.infoCalls).toBe(1);
      expect(connection.waits.map((wait) => wait.numreplicas)).toEqual([1]);
      connection.waits[0].answer.resolve(1);
      await flush();
      connection.waits[1].answer.resolve(1);
      await Promise.all(confirms);

      // The replica's link drops: INFO no longer lists it, but it acknowledged 3 s ago at most, so WAIT still runs.
      connection.info_ = INFO_NO_REPLICA;
      now = 999;
      const cached = waiter.confirm();
      await flush();
      expect(connection.infoCalls).toBe(1);
      connection.waits[2].answer.resolve(1);
      expect((await cached).outcome).toBe('acked');
      now = 3_000;
      const stillExpected = waiter.confirm();
      await flush();
      expect(connection.infoCalls).toBe(2);
      connection.waits[3].answer.resolve(0);
      expect((await stillExpected).outcome).toBe('timeout');

      // Silent for longer than maxLagSeconds: no longer waited for.
      now = 3_001;
      expect((await waiter.confirm()).outcome).toBe('skipped');
      expect(connection.infoCalls).toBe(3);
      expect(connection.waits).toHaveLength(4);
    });

    it('counts a connected replica by its last acknowledgement (lag)', async () => {
      let now = 10_000;
      const connection = new FakeConnection();
      connection.info_ = 'role:master\r\nslave0:ip=10.0.0.2,port=6379,state=online,offset=5,lag=4\r\n';
      const waiter = new ReplicaWaiter(connection, { maxLagSeconds: 3, now: () => now });
      expect((await waiter.confirm()).outcome).toBe('skipped');
      connection.info_ = INFO_ONE_REPLICA;
      now = 11_000;
      const confirmed = waiter.confirm();
      await flush();
      connection.waits[0].answer.resolve(1);
      expect((await confirmed).outcome).toBe('acked');
    });

    it('looks at the replicas again right after a timeout, and forgets them on reset()', async () => {
      const connection = new FakeConnection();
      const waiter = new ReplicaWaiter(connection, { refreshMs: 60_000 });
      const timedOut = waiter.confirm();
      await flush();
      connection.waits[0].answer.resolve(0);
      expect((await timedOut).outcome).toBe('timeout');
      const again = waiter.confirm();
      await flush();
      expect(connection.infoCalls).toBe(2);
      connection.waits[1].answer.resolve(1);
      await again;
      // Another primary (a reconnect after a failover) without replicas: nothing to wait for.
      connection.info_ = INFO_NO_REPLICA;
      waiter.reset();
      expect((await waiter.confirm()).outcome).toBe('skipped');
      expect(connection.infoCalls).toBe(3);
    });

    it('rejects when INFO fails (the connection is down)', async () => {
      const connection = new FakeConnection();
      connection.info = () => Promise.reject(new Error('Connection is closed.'));
      await expect(new ReplicaWaiter(connection).confirm()).rejects.toThrow('Connection is closed.');
    });
  });
});

describe('replicaLags', () => {
  it('lists the lag of every online replica', () => {
    const info = [
      'role:master',
      'connected_slaves:4',
      'slave0:ip=10.0.0.2,port=6379,state=online,offset=99,lag=0',
      'slave1:ip=10.0.0.3,port=6379,state=online,offset=99,lag=3',
      'slave2:ip=10.0.0.4,port=6379,state=online,offset=10,lag=4',
      'slave3:ip=10.0.0.5,port=6379,state=wait_bgsave,offset=0,lag=0',
    ].join('\n');
    expect(replicaLags(info)).toEqual([0, 3, 4]);
    expect(replicaLags(INFO_NO_REPLICA)).toEqual([]);
    expect(replicaLags('role:slave\r\nmaster_host:10.0.0.1\r\n')).toEqual([]);
  });
});
