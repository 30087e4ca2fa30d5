import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import {
  decodeAssignment,
  decodeWorkerStatus,
  encodeAssignment,
  encodeWorkerStatus,
  redisKeys,
  WORKER_HEARTBEAT_TTL_MS,
  type ModelAssignment,
  type ModelVersionRef,
  type WorkerModelStatus,
} from '@reputation-monitor/contracts';
import { ReplicaWaiter, type WaitReplicas } from '@reputation-monitor/redis-connection';
import { ModelAdminError } from './model-admin-error';

/** Approximate cap of the history stream (`XADD MAXLEN ~`). */
export const ASSIGNMENT_HISTORY_MAXLEN = 10_000;
const WRITE_ATTEMPTS = 6;
const HISTORY_FIELD = 'assignment';
const HISTORY_PAGE = 100;

/**
 * Compare-and-set: writes the record and its history entry only if the record is still what the writer
 * read (none: ARGV[1] empty), then publishes the revision. One script, so nothing sees one without the
 * other.
 */
const WRITE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if (current or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'revision', ARGV[5], '${HISTORY_FIELD}', ARGV[2])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
`;

/** Deletes the statuses of workers whose heartbeat is missing or older than ARGV[1], checked at deletion. */
const PRUNE_SCRIPT = `
local pruned = 0
for i = 2, #ARGV do
  local beat = redis.call('ZSCORE', KEYS[2], ARGV[i])
  if (not beat) or tonumber(beat) < tonumber(ARGV[1]) then
    pruned = pruned + redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return pruned
`;

export interface WatchOptions {
  /** Fallback poll interval: pub/sub messages are lost while a connection is down. */
  pollMs: number;
  /** Makes the connection the watch subscribes on (a subscribed connection can do nothing else); closed by stop(). */
  subscriber: () => Redis;
  onError?: (error: Error) => void;
}

export interface ServedVersions {
  has(version: ModelVersionRef): boolean;
  /** No worker ever marked a version (workers that predate the marks, or the key was lost). */
  readonly empty: boolean;
}

export interface AssignmentStoreOptions {
  /**
   * Replicas a write waits for (Redis WAIT on the connection that wrote) before it resolves, as for an enqueue
   * (ADR 0007): `auto` (the default) waits for one while the primary has a healthy replica, 0 never waits.
   */
  waitReplicas?: WaitReplicas;
  /** How long that WAIT may take. */
  waitTimeoutMs?: number;
}

/**
 * The model assignment in Redis: one versioned record (`redisKeys.modelAssignment`) changed only by
 * compare-and-set, its audit history (a capped stream), a pub/sub channel announcing each revision, and
 * the workers' reports of what they serve.
 */
export class AssignmentStore {
  private readonly recordKey: string;
  private readonly historyKey: string;
  private readonly channel: string;
  private readonly statusKey: string;
  private readonly heartbeatKey: string;
  private readonly servedKey: string;
  private readonly replicas: ReplicaWaiter;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    options: AssignmentStoreOptions = {},
  ) {
    this.replicas = new ReplicaWaiter(redis, {
      replicas: options.waitReplicas,
      timeoutMs: options.waitTimeoutMs,
    });
    this.recordKey = redisKeys.modelAssignment(prefix);
    this.historyKey = redisKeys.modelAssignmentHistory(prefix);
    this.channel = redisKeys.modelAssignmentChanged(prefix);
    this.statusKey = redisKeys.modelWorkerStatus(prefix);
    this.heartbeatKey = redisKeys.workerHeartbeats(prefix);
    this.servedKey = redisKeys.modelServed(prefix);
  }

  /** Undefined when none was ever written; throws on an undecodable record. */
  async current(): Promise<ModelAssignment | undefined> {
    return this.decodeRecord(await this.redis.get(this.recordKey));
  }

  /**
   * Compare-and-set: `next` gets the current record and returns the new one without its revision;
   * revision = old + 1 (1 for the first); the record and an entry in the history stream are written
   * atomically; then the revision is PUBLISHed on the channel. Retries a lost race a few times (calling
   * `next` again with the newer record), then throws ModelAdminError('conflict'). What `next` throws is
   * thrown as it is, and nothing is written. Resolves once the replicas the options ask for hold the record;
   * throws ModelAdminError('not_replicated') when they did not acknowledge it in time: the record is on the
   * primary and workers follow it, but a failover now could lose it.
   */
  async write(
    next: (current: ModelAssignment | undefined) => Omit<ModelAssignment, 'revision'>,
  ): Promise<ModelAssignment> {
    for (let attempt = 1; attempt <= WRITE_ATTEMPTS; attempt++) {
      const raw = await this.redis.get(this.recordKey);
      const current = this.decodeRecord(raw);
      const revision = (current?.revision ?? 0) + 1;
      const proposed = next(current);
      const encoded = encodeAssignment({ ...proposed, revision });
      const check = decodeAssignment(encoded);
      if (!check.ok) throw new ModelAdminError('invalid', `the new assignment is not valid: ${check.reason}`);
      const written = await this.redis.eval(
        WRITE_SCRIPT,
        2,
        this.recordKey,
        this.historyKey,
        raw ?? '',
        encoded,
        String(ASSIGNMENT_HISTORY_MAXLEN),
        this.channel,
        String(revision),
      );
      if (written === 1) {
        await this.confirmReplicated(check.assignment);
        return check.assignment;
      }
      // Another writer got there first: back off a little, at random, so two writers do not collide again.
      await sleep(Math.random() * 10 * attempt);
    }
    throw new ModelAdminError(
      'conflict',
      `the model assignment kept changing while it was written (${WRITE_ATTEMPTS} attempts); try again`,
    );
  }

  /** Newest first (the current record is the first), from the capped history stream; 0 reads nothing. */
  async history(limit = 100): Promise<ModelAssignment[]> {
    if (!Number.isSafeInteger(limit) || limit < 0)
      throw new ModelAdminError('invalid', `limit must be a whole number of records, got ${limit}`);
    if (limit === 0) return [];
    const entries = await this.redis.xrevrange(this.historyKey, '+', '-', 'COUNT', limit);
    return entries.flatMap(([, fields]) => decodeEntry(fields));
  }

  /** Every record of the history, newest first, read a page at a time. */
  async *walkHistory(): AsyncGenerator<ModelAssignment> {
    let end = '+';
    for (;;) {
      const entries = await this.redis.xrevrange(this.historyKey, end, '-', 'COUNT', HISTORY_PAGE);
      for (const [, fields] of entries) yield* decodeEntry(fields);
      if (entries.length < HISTORY_PAGE) return;
      end = `(${entries[entries.length - 1][0]}`;
    }
  }

  /**
   * Calls onChange with the latest record whenever it changes: pub/sub on a connection of its own (made by
   * `subscriber()`), and a poll every pollMs as fallback (pub/sub messages are lost while disconnected). Starts
   * with one read. Reads never overlap, so records arrive in order. A record is known by its revision and the
   * time of its change: after Redis lost the newest writes (a failover to a lagging replica), a new record may
   * carry a revision number already seen, or a lower one, and is still a change.
   */
  watch(onChange: (assignment: ModelAssignment) => void, options: WatchOptions): { stop(): Promise<void> } {
    if (!(options.pollMs > 0)) throw new ModelAdminError('invalid', 'pollMs must be a positive number');
    const report = (error: unknown) => {
      if (!stopped) options.onError?.(error instanceof Error ? error : new Error(String(error)));
    };
    let stopped = false;
    let last: string | undefined;
    let running: Promise<void> | undefined;
    let again = false;

    const read = async (): Promise<void> => {
      do {
        again = false;
        try {
          const assignment = await this.current();
          if (!stopped && assignment && assignmentKey(assignment) !== last) {
            last = assignmentKey(assignment);
            onChange(assignment);
          }
        } catch (error) {
          report(error);
        }
      } while (again && !stopped);
    };
    const check = () => {
      if (stopped) return;
      if (running) {
        again = true; // a read in progress may have started before the change
        return;
      }
      running = read().finally(() => {
        running = undefined;
      });
    };

    check();
    const timer = setInterval(check, options.pollMs);
    timer.unref();

    let subscriber: Redis | undefined;
    try {
      subscriber = options.subscriber();
      subscriber.on('message', (channel: string) => {
        if (channel === this.channel) check();
      });
      // After a reconnection (ioredis subscribes again by itself), what was published meanwhile is read.
      subscriber.on('ready', check);
      subscriber.on('error', report);
      subscriber.subscribe(this.channel).then(check, report);
    } catch (error) {
      report(error);
    }

    return {
      stop: async () => {
        stopped = true;
        clearInterval(timer);
        await running;
        if (subscriber) {
          await subscriber.quit().catch(() => subscriber?.disconnect());
        }
      },
    };
  }

  /** A worker began serving `version` as production (after loading and warming it). */
  async markServed(version: ModelVersionRef): Promise<void> {
    await this.redis.hset(this.servedKey, servedField(version), new Date().toISOString());
  }

  /** The versions some worker ever served as production, per `markServed`. */
  async servedVersions(): Promise<ServedVersions> {
    const served = new Set(await this.redis.hkeys(this.servedKey));
    return { has: (version) => served.has(servedField(version)), empty: served.size === 0 };
  }

  async reportStatus(status: WorkerModelStatus): Promise<void> {
    if (typeof status.workerId !== 'string' || status.workerId === '')
      throw new ModelAdminError('invalid', 'a worker status needs a workerId');
    await this.redis.hset(this.statusKey, status.workerId, encodeWorkerStatus(status));
  }

  async removeStatus(workerId: string): Promise<void> {
    await this.redis.hdel(this.statusKey, workerId);
  }

  /**
   * Statuses of live workers only, by worker id: entries whose worker has no fresh heartbeat
   * (redisKeys.workerHeartbeats, WORKER_HEARTBEAT_TTL_MS) are left out and pruned.
   */
  async statuses(): Promise<WorkerModelStatus[]> {
    const cutoff = Date.now() - WORKER_HEARTBEAT_TTL_MS;
    const [reported, live] = await Promise.all([
      this.redis.hgetall(this.statusKey),
      this.redis.zrangebyscore(this.heartbeatKey, cutoff, '+inf'),
    ]);
    const alive = new Set(live);
    const statuses: WorkerModelStatus[] = [];
    const gone: string[] = [];
    for (const [workerId, raw] of Object.entries(reported)) {
      if (!alive.has(workerId)) {
        gone.push(workerId);
        continue;
      }
      // An unreadable entry of a live worker is skipped; its next report replaces it.
      const status = decodeWorkerStatus(raw);
      if (status) statuses.push(status);
    }
    // Checked again inside the script: a worker that beat meanwhile keeps its entry.
    if (gone.length > 0)
      await this.redis.eval(PRUNE_SCRIPT, 2, this.statusKey, this.heartbeatKey, cutoff, ...gone);
    return statuses.sort((a, b) => (a.workerId < b.workerId ? -1 : a.workerId > b.workerId ? 1 : 0));
  }

  private async confirmReplicated(assignment: ModelAssignment): Promise<void> {
    const written = `revision ${assignment.revision} (${assignment.change.action}) is written on the Redis primary`;
    const advice = 'a failover now could lose it. Read the assignment before repeating the change.';
    // The write is done either way: a failed WAIT must not read as "nothing happened, retry".
    const result = await this.replicas.confirm().catch((error: Error) => {
      throw new ModelAdminError(
        'not_replicated',
        `${written}, but its WAIT failed (${error.message}): ${advice}`,
      );
    });
    if (result.outcome !== 'timeout') return;
    throw new ModelAdminError(
      'not_replicated',
      `${written}, but ${result.acked} of the ${result.wanted} replica(s) asked for acknowledged it within ` +
        `${this.replicas.timeoutMs} ms: ${advice}`,
    );
  }

  private decodeRecord(raw: string | null): ModelAssignment | undefined {
    if (raw === null) return undefined;
    const check = decodeAssignment(raw);
    if (!check.ok) throw new Error(`${this.recordKey} holds no valid model assignment: ${check.reason}`);
    return check.assignment;
  }
}

function decodeEntry(fields: string[]): ModelAssignment[] {
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] !== HISTORY_FIELD) continue;
    const check = decodeAssignment(fields[i + 1]);
    return check.ok ? [check.assignment] : [];
  }
  return [];
}

/** A version's field in the served hash: its id and location, as a JSON pair (either may hold any character). */
function servedField(version: ModelVersionRef): string {
  return JSON.stringify([version.id, version.location]);
}

/** What tells two assignment records apart: the revision, and when its change was made. */
export function assignmentKey(assignment: Pick<ModelAssignment, 'revision' | 'change'>): string {
  return `${assignment.revision}@${assignment.change.at}`;
}
