import type { Redis } from 'ioredis';

/** Deletes the lease only if this owner still holds it (another may have taken it after it lapsed). */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
/** Extends the lease only if this owner still holds it. */
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

export interface HeldLease {
  /** False once a renewal found the lease gone or taken (the process stalled past its TTL). */
  held(): boolean;
  release(): Promise<void>;
}

export interface RunLeaseOptions {
  /** How long the lease outlives a holder that died without releasing it. Renewed every third of it. */
  ttlMs: number;
  /** How often a waiting replica tries again. */
  pollMs: number;
}

export const DEFAULT_RUN_LEASE: RunLeaseOptions = { ttlMs: 30_000, pollMs: 250 };

/**
 * A lease in Redis that lets one replica at a time run an evaluation, whichever way it was started (the
 * schedule, POST /v1/runs, --run-once), so each run sees the drift history the previous one wrote. A holder
 * that dies frees it after `ttlMs`; a live one keeps renewing it.
 */
export class RunLease {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly options: RunLeaseOptions = DEFAULT_RUN_LEASE,
  ) {}

  /** The lease, or undefined when another owner still holds it after `waitMs`. */
  async acquire(owner: string, waitMs: number): Promise<HeldLease | undefined> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const taken = await this.redis.set(this.key, owner, 'PX', this.options.ttlMs, 'NX');
      if (taken === 'OK') return this.hold(owner);
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise((resolve) => setTimeout(resolve, Math.min(this.options.pollMs, left)));
    }
  }

  /** Who holds the lease now, if anyone. */
  holder(): Promise<string | null> {
    return this.redis.get(this.key);
  }

  private hold(owner: string): HeldLease {
    let held = true;
    const renew = setInterval(() => {
      this.redis.eval(RENEW, 1, this.key, owner, this.options.ttlMs).then(
        (renewed) => (held = held && renewed === 1),
        // A Redis error is not proof of loss; the next renewal, or the TTL, decides.
        () => undefined,
      );
    }, this.options.ttlMs / 3);
    renew.unref();
    return {
      held: () => held,
      release: async () => {
        clearInterval(renew);
        await this.redis.eval(RELEASE, 1, this.key, owner);
      },
    };
  }
}
