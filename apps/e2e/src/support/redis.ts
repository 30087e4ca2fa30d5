import IORedis, { Redis } from 'ioredis';
import { REDIS_URL } from './paths';

/** A key prefix of its own for each suite run, so runs never see each other's queues. */
export function uniquePrefix(suite: string): string {
  return `test-${suite}-${process.pid}-${Date.now().toString(36)}`;
}

export function connectRedis(): Redis {
  return new IORedis(REDIS_URL, { maxRetriesPerRequest: 3 });
}

export { deletePrefix } from '@reputation-monitor/app-harness';
