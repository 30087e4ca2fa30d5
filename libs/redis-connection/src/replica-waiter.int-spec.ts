import IORedis from 'ioredis';
import { ReplicaWaiter } from './replica-waiter';

// Real Redis (the shared one, which has no replica: a WAIT for one blocks until its timeout).
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const key = `test-replica-waiter-${process.pid}-${Date.now().toString(36)}`;

it('confirms nothing when the connection dies while its WAIT is out, though ioredis sends the WAIT again', async () => {
  const connection = new IORedis(REDIS_URL);
  const admin = new IORedis(REDIS_URL);
  try {
    const waiter = new ReplicaWaiter(connection, { replicas: 1, timeoutMs: 1_500 });
    await connection.set(key, 'written on the first connection');
    const id = await connection.client('ID');
    const confirmed = waiter.confirm();
    await new Promise((resolve) => setTimeout(resolve, 200));
    await admin.client('KILL', 'ID', String(id));
    // The resent WAIT runs on a new connection, which made no write: its answer says nothing of this one.
    await expect(confirmed).rejects.toThrow(/connection closed while the write was being confirmed/);
    expect(await connection.client('ID')).not.toBe(id);
  } finally {
    await admin.del(key);
    connection.disconnect();
    admin.disconnect();
  }
});
