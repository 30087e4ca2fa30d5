import { hostname } from 'node:os';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { WORKER_HEARTBEAT_TTL_MS, redisKeys } from '@reputation-monitor/contracts';
import { REDIS, WORKER_CONFIG } from './tokens';
import type { WorkerConfig } from './worker-config';

/**
 * Tells the gateway's readiness check that a worker able to serve is alive: a score (last beat, ms)
 * per worker in a sorted set. Entries older than the TTL are pruned by each beat.
 */
@Injectable()
export class Heartbeat {
  readonly workerId = `${hostname()}-${process.pid}`;
  private readonly logger = new Logger(Heartbeat.name);
  private readonly key: string;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
  ) {
    this.key = redisKeys.workerHeartbeats(config.queuePrefix);
  }

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => {
      this.beat().catch((error: Error) => this.logger.warn(`heartbeat failed: ${error.message}`));
    }, this.config.heartbeatIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.redis.zrem(this.key, this.workerId).catch(() => undefined);
  }

  private async beat(): Promise<void> {
    const now = Date.now();
    await this.redis
      .multi()
      .zadd(this.key, now, this.workerId)
      .zremrangebyscore(this.key, 0, now - WORKER_HEARTBEAT_TTL_MS)
      .exec();
  }
}
