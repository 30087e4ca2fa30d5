import { DEFAULT_WAIT_REPLICAS, DEFAULT_WAIT_TIMEOUT_MS, WaitReplicas } from './settings';

/** What one `confirm()` found. */
export type ReplicaWaitOutcome = 'acked' | 'timeout' | 'skipped' | 'error';

export interface ReplicaWaitResult {
  /**
   * acked: enough replicas hold the write. timeout: fewer acknowledged within the timeout. skipped: no WAIT
   * (off, or `auto` and the primary has no healthy replica). error: the connection failed (confirm() threw).
   */
  outcome: ReplicaWaitOutcome;
  /** Replicas asked for; 0 when skipped. */
  wanted: number;
  /** Replicas that acknowledged (WAIT's answer); 0 when skipped or failed. */
  acked: number;
  /** How long this caller waited, in seconds. */
  seconds: number;
}

/** The commands the waiter sends, and the connection's `close` event: an ioredis connection has them. */
export interface WaitClient {
  wait(numreplicas: number, timeout: number): Promise<number>;
  info(section: 'replication'): Promise<string>;
  on?(event: 'close', listener: () => void): unknown;
}

export interface ReplicaWaiterOptions {
  replicas?: WaitReplicas;
  timeoutMs?: number;
  /** `auto`: how long a reading of the primary's replicas is reused. */
  refreshMs?: number;
  /**
   * `auto`: waits while some replica acknowledged the primary within this many seconds, connected or not (a
   * replica whose link just dropped is still expected back).
   */
  maxLagSeconds?: number;
  /** Called with every result, failures included (metrics). */
  onResult?: (result: ReplicaWaitResult) => void;
  now?: () => number;
}

/** The connection closed between the write and WAIT's answer: the write may be on the primary only. */
export class ReplicaWaitInterruptedError extends Error {
  override readonly name = 'ReplicaWaitInterruptedError';

  constructor() {
    super('the Redis connection closed while the write was being confirmed: not confirmed');
  }
}

/** How often `auto` re-reads INFO replication (one round trip per second per connection, whatever the load). */
export const AUTO_REFRESH_MS = 1_000;
/**
 * A replica acknowledges its primary once a second. One silent for longer than 3 s (its link dropped, or it is
 * partitioned or stuck) is not waited for: every enqueue would be a timeout until it is back.
 */
export const AUTO_MAX_LAG_SECONDS = 3;

/** Seconds since each replica INFO replication lists as online last acknowledged (its `lag`). */
export function replicaLags(info: string): number[] {
  const lags: number[] = [];
  for (const line of info.split(/\r?\n/)) {
    const match = /^slave\d+:(.*)$/.exec(line.trim());
    if (!match) continue;
    const fields = Object.fromEntries(
      match[1].split(',').map((pair) => {
        const at = pair.indexOf('=');
        return [pair.slice(0, at), pair.slice(at + 1)];
      }),
    );
    const lag = Number(fields.lag);
    if (fields.state === 'online' && fields.lag !== '' && Number.isFinite(lag)) lags.push(lag);
  }
  return lags;
}

const ignore = () => undefined;

/**
 * Confirms that writes made on one connection reached replicas, with Redis's WAIT, before a producer answers.
 *
 * WAIT covers every write its connection made before it, so concurrent callers share one: a caller joins the next
 * WAIT to be sent, never one already sent (it may have left before the caller's write was answered). While one
 * WAIT is out (Redis holds the connection's later commands behind it), every caller that arrives meanwhile joins
 * the one that follows, so under load there is one WAIT per round trip, not one per write. `confirm()` must be
 * called on the connection that wrote, after the write was answered.
 */
export class ReplicaWaiter {
  /** confirm() calls, and WAITs actually sent (their ratio is the coalescing). */
  readonly stats = { confirms: 0, waits: 0 };
  private readonly replicas: WaitReplicas;
  /** How long each WAIT may take (`timeoutMs`, else DEFAULT_WAIT_TIMEOUT_MS). */
  readonly timeoutMs: number;
  private readonly now: () => number;
  /** The WAIT on the wire. */
  private sent: Promise<number> | undefined;
  /** The WAIT to send once `sent` is answered; callers arriving meanwhile share it. */
  private queued: Promise<number> | undefined;
  /** `auto`: when INFO was last read, and when a replica last acknowledged according to it. */
  private readAt: number | undefined;
  private lastAckAt: number | undefined;
  private readingInFlight: Promise<void> | undefined;
  /**
   * How often the connection closed. ioredis sends a command left unanswered by a closed connection again on
   * the next one, where a WAIT covers none of the writes made before: such an answer confirms nothing.
   */
  private closes = 0;

  constructor(
    private readonly client: WaitClient,
    private readonly options: ReplicaWaiterOptions = {},
  ) {
    this.replicas = options.replicas ?? DEFAULT_WAIT_REPLICAS;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
    this.now = options.now ?? (() => performance.now());
    client.on?.('close', () => (this.closes += 1));
  }

  /** Replicas each WAIT asks for: `auto` waits for one. */
  get numReplicas(): number {
    return this.replicas === 'auto' ? 1 : this.replicas;
  }

  /**
   * Resolves once a WAIT sent after this call answered (or at once when there is nothing to wait for). A timeout
   * is a result (`timeout`), not an error; a failed connection rejects.
   */
  async confirm(): Promise<ReplicaWaitResult> {
    const started = this.now();
    this.stats.confirms += 1;
    const finish = (outcome: ReplicaWaitOutcome, wanted: number, acked: number): ReplicaWaitResult => {
      const result = { outcome, wanted, acked, seconds: (this.now() - started) / 1000 };
      this.options.onResult?.(result);
      return result;
    };
    const closes = this.closes;
    try {
      if (!(await this.expectsReplicas())) return finish('skipped', 0, 0);
      const wanted = this.numReplicas;
      const acked = await this.join();
      if (this.closes !== closes) throw new ReplicaWaitInterruptedError();
      if (acked >= wanted) return finish('acked', wanted, acked);
      // The replica may be gone: `auto` looks again before the next write.
      this.readAt = undefined;
      return finish('timeout', wanted, acked);
    } catch (error) {
      finish('error', this.numReplicas, 0);
      throw error;
    }
  }

  /** Forgets what `auto` read about the replicas (call on a reconnect: it may be another primary now). */
  reset(): void {
    this.readAt = undefined;
    this.lastAckAt = undefined;
  }

  /**
   * `auto`: whether a replica acknowledged within `maxLagSeconds`, per INFO replication read at most once per
   * `refreshMs`. A replica whose link just dropped is no longer listed, but is still waited for until then: a
   * primary dying right after its replica lost the link would otherwise take confirmed jobs with it.
   */
  private async expectsReplicas(): Promise<boolean> {
    if (this.replicas !== 'auto') return this.replicas > 0;
    const refreshMs = this.options.refreshMs ?? AUTO_REFRESH_MS;
    if (this.readAt === undefined || this.now() - this.readAt >= refreshMs) {
      this.readingInFlight ??= this.client
        .info('replication')
        .then((info) => {
          const at = this.now();
          const lags = replicaLags(info);
          if (lags.length > 0) {
            const ackAt = at - Math.min(...lags) * 1000;
            this.lastAckAt = Math.max(this.lastAckAt ?? ackAt, ackAt);
          }
          this.readAt = at;
        })
        .finally(() => (this.readingInFlight = undefined));
      await this.readingInFlight;
    }
    const maxLagMs = (this.options.maxLagSeconds ?? AUTO_MAX_LAG_SECONDS) * 1000;
    return this.lastAckAt !== undefined && this.now() - this.lastAckAt <= maxLagMs;
  }

  private join(): Promise<number> {
    if (this.queued) return this.queued;
    if (!this.sent) return this.send();
    const queued = this.sent.then(ignore, ignore).then(() => {
      this.queued = undefined;
      return this.send();
    });
    this.queued = queued;
    return queued;
  }

  private send(): Promise<number> {
    this.stats.waits += 1;
    const sent = this.client.wait(this.numReplicas, this.timeoutMs);
    this.sent = sent;
    const clear = () => {
      if (this.sent === sent) this.sent = undefined;
    };
    sent.then(clear, clear);
    return sent;
  }
}
