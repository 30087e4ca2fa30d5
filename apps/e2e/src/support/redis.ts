import IORedis, { Redis } from 'ioredis';
import { REDIS_URL } from './paths';

/** A key prefix of its own for each suite run, so runs never see each other's queues. */
export function uniquePrefix(suite: string): string {
  return `test-${suite}-${process.pid}-${Date.now().toString(36)}`;
}

export function connectRedis(): Redis {
  return new IORedis(REDIS_URL, { maxRetriesPerRequest: 3 });
}

/** Deletes every key under the prefix (BullMQ's and ours). */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}
