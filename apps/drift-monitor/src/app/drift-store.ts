import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import {
  FeedbackRecord,
  decodeAssignment,
  decodeWorkerStatus,
  redisKeys,
} from '@reputation-monitor/contracts';
import { FeedbackStore, StreamWindow, readPredictionWindow } from '@reputation-monitor/prediction-store';
import { ReferenceProfile, parseProfile } from '@reputation-monitor/drift-stats';
import type { AssignmentView } from './candidate';
import type { DriftHistoryEntry } from './decision';
import type { DriftConfig } from './drift-config';
import { driftKeys } from './drift-queue';
import type { RunReport } from './report';
import { HeldLease, RunLease } from './run-lease';
import { DRIFT_CONFIG, REDIS } from './tokens';
import type { WindowBounds } from './window';

/** A version's reference profile and where it came from. */
export interface StoredProfile {
  profile: ReferenceProfile;
  source: 'window' | 'golden';
  createdAt: string;
  reportId: string;
}

/** A version's golden-set quality on its first run: the default baseline. */
export interface StoredBaseline {
  macroRecall: number;
  accuracy: number;
  count: number;
  createdAt: string;
  reportId: string;
}

/** Everything the drift monitor keeps in Redis, under the deployment's prefix. */
@Injectable()
export class DriftStore {
  private readonly prefix: string;
  private readonly feedback: FeedbackStore;

  constructor(
    @Inject(REDIS) readonly redis: Redis,
    @Inject(DRIFT_CONFIG) private readonly config: DriftConfig,
  ) {
    this.prefix = config.queuePrefix;
    this.feedback = new FeedbackStore(redis, config.queuePrefix);
  }

  /** The window's stream entries, oldest first, at most `max` (then `capped`), and whether the cap cut into it. */
  readStream(bounds: WindowBounds, max: number): Promise<StreamWindow> {
    return readPredictionWindow(this.redis, this.prefix, bounds, max);
  }

  /** Feedback labels given during the window (by the time of the label), with unreadable or expired ones counted. */
  readFeedback(
    bounds: WindowBounds,
    max: number,
  ): Promise<{ records: FeedbackRecord[]; unreadable: number }> {
    return this.feedback.readWindow(bounds, max);
  }

  /**
   * The model assignment the workers follow, and the model version each registry id is served as (from
   * the workers' status reports: the stream names versions, the assignment registry ids). MODEL_DIR, which a
   * worker reports without a location, is no registry version whatever its id.
   */
  async readAssignment(): Promise<AssignmentView> {
    const [raw, statuses] = await Promise.all([
      this.redis.get(redisKeys.modelAssignment(this.prefix)),
      this.redis.hvals(redisKeys.modelWorkerStatus(this.prefix)),
    ]);
    const servedAs: Record<string, string> = {};
    for (const status of statuses.map(decodeWorkerStatus)) {
      for (const served of status?.serving ?? [])
        if (
          typeof served?.id === 'string' &&
          typeof served.location === 'string' &&
          typeof served.modelVersion === 'string'
        )
          servedAs[served.id] = served.modelVersion;
    }
    if (raw === null) return { assignment: undefined, servedAs };
    const check = decodeAssignment(raw);
    return check.ok
      ? { assignment: check.assignment, servedAs }
      : { assignment: undefined, invalid: check.reason, servedAs };
  }

  async getProfile(version: string): Promise<StoredProfile | undefined> {
    const raw = await this.redis.get(driftKeys.profile(this.prefix, version));
    if (raw === null) return undefined;
    const stored = JSON.parse(raw) as StoredProfile;
    return { ...stored, profile: parseProfile(stored.profile) };
  }

  /**
   * Stores a version's first reference. Of replicas racing to create it, the first wins and the others
   * get the winner's back (`created: false`), so every run of a version compares with the same reference.
   */
  async createProfile(
    version: string,
    stored: StoredProfile,
  ): Promise<{ stored: StoredProfile; created: boolean }> {
    const set = await this.redis.set(driftKeys.profile(this.prefix, version), JSON.stringify(stored), 'NX');
    if (set === 'OK') return { stored, created: true };
    return { stored: (await this.getProfile(version)) ?? stored, created: false };
  }

  async getBaseline(version: string): Promise<StoredBaseline | undefined> {
    const raw = await this.redis.get(driftKeys.baseline(this.prefix, version));
    return raw === null ? undefined : (JSON.parse(raw) as StoredBaseline);
  }

  /** Like createProfile: the first replica's baseline wins. */
  async createBaseline(
    version: string,
    baseline: StoredBaseline,
  ): Promise<{ stored: StoredBaseline; created: boolean }> {
    const set = await this.redis.set(
      driftKeys.baseline(this.prefix, version),
      JSON.stringify(baseline),
      'NX',
    );
    if (set === 'OK') return { stored: baseline, created: true };
    return { stored: (await this.getBaseline(version)) ?? baseline, created: false };
  }

  /** The version's kept window verdicts, oldest first. */
  async history(version: string): Promise<DriftHistoryEntry[]> {
    const members = await this.redis.zrange(driftKeys.history(this.prefix, version), 0, -1);
    return members.map((member) => JSON.parse(member) as DriftHistoryEntry);
  }

  /** Records a window's verdict, replacing an earlier verdict on the same window, keeping the newest N. */
  async recordWindow(version: string, entry: DriftHistoryEntry): Promise<void> {
    const key = driftKeys.history(this.prefix, version);
    await this.redis
      .multi()
      .zremrangebyscore(key, entry.windowEnd, entry.windowEnd)
      .zadd(key, entry.windowEnd, JSON.stringify(entry))
      .zremrangebyrank(key, 0, -(this.config.drift.historyLength + 1))
      .exec();
  }

  /** Stores a report and its place in the newest-first list; reports beyond the retention are deleted. */
  async saveReport(report: RunReport): Promise<void> {
    const list = driftKeys.reports(this.prefix);
    const keep = this.config.reportRetention;
    await this.redis
      .multi()
      .set(driftKeys.report(this.prefix, report.id), JSON.stringify(report))
      .lpush(list, report.id)
      .exec();
    const dropped = await this.redis.lrange(list, keep, -1);
    const transaction = this.redis.multi().ltrim(list, 0, keep - 1);
    if (dropped.length > 0) transaction.del(...dropped.map((id) => driftKeys.report(this.prefix, id)));
    await transaction.exec();
  }

  /** Newest first. */
  async latestReports(limit: number): Promise<RunReport[]> {
    const ids = await this.redis.lrange(driftKeys.reports(this.prefix), 0, limit - 1);
    if (ids.length === 0) return [];
    const values = await this.redis.mget(...ids.map((id) => driftKeys.report(this.prefix, id)));
    return values.filter((value): value is string => value !== null).map((value) => JSON.parse(value));
  }

  async getReport(id: string): Promise<RunReport | undefined> {
    const raw = await this.redis.get(driftKeys.report(this.prefix, id));
    return raw === null ? undefined : (JSON.parse(raw) as RunReport);
  }

  /** The cross-replica run lease (see RunLease), or undefined when another run still holds it after `waitMs`. */
  acquireRunLease(owner: string, waitMs: number): Promise<HeldLease | undefined> {
    return new RunLease(this.redis, driftKeys.runLease(this.prefix)).acquire(owner, waitMs);
  }

  async markSuccess(at: Date): Promise<void> {
    await this.redis.set(driftKeys.lastSuccess(this.prefix), String(at.getTime() / 1000));
  }

  async lastSuccess(): Promise<number | undefined> {
    const raw = await this.redis.get(driftKeys.lastSuccess(this.prefix));
    return raw === null ? undefined : Number(raw);
  }
}
