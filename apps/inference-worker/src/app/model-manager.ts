import { basename, dirname } from 'node:path';
import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { connectRedis } from '@reputation-monitor/redis-connection';
import {
  CandidateMode,
  ModelAssignment,
  ModelRole,
  ModelVersionRef,
  WorkerModelStatus,
  routingPoint,
} from '@reputation-monitor/contracts';
import {
  AssignmentStore,
  assignmentKey,
  openModelRegistry,
  parseModelLocation,
  PullCancelledError,
  sameVersion,
} from '@reputation-monitor/model-registry';
import { Heartbeat } from './heartbeat';
import { LoadedModel } from './loaded-model';
import { REDIS, WORKER_CONFIG } from './tokens';
import { WorkerMetrics } from './worker-metrics';
import type { WorkerConfig } from './worker-config';

/** The model a job is answered by, and the one that scores its texts beside it (shadow/canary pairs). */
export interface Route {
  answer: LoadedModel;
  role: Exclude<ModelRole, 'shadow'>;
  shadow?: LoadedModel;
  /** Ends the job's use of `answer` (the shadow's use is ended by whoever scores it). */
  release(): void;
  /** Ends the use of `shadow` (called by the shadow scorer, or at once when the work is dropped). */
  releaseShadow(): void;
}

interface Candidate {
  model: LoadedModel;
  mode: CandidateMode;
  share: number;
}

/** The versions MODEL_DIR stands for when no assignment exists. */
const STATIC_VERSION = 'static';

/**
 * Which model versions this worker serves, following the assignment record in Redis: pub/sub with a polling
 * fallback; a new version is fetched and loaded beside the one serving, new jobs go to it once it is loaded
 * and warm, and the old session is freed after the last job that picked it has finished (its batches never
 * mix with the new one's). At most two versions are loaded at once: production plus a candidate, or the old
 * and the new production during a switch (a change that would need a third first lets the candidate go). Only
 * production runs on the inference lanes; the other version runs on one session with every core, and a new
 * production opens its lanes once the old one is closed (memory: production's lanes and solo lane plus one
 * session, where two versions' lanes were before). A
 * version that fails to load is refused: the old one keeps serving and the failure is logged, counted and
 * written to this worker's status beside the assignment. Without an assignment, MODEL_DIR is served.
 */
@Injectable()
export class ModelManager implements OnApplicationShutdown {
  private readonly logger = new Logger(ModelManager.name);
  private production: LoadedModel | undefined;
  private candidate: Candidate | undefined;
  private readonly store: AssignmentStore;
  /**
   * The assignment record served (undefined: MODEL_DIR, no assignment). Records are told apart by revision and
   * change time (assignmentKey), not by revision alone: after Redis lost the newest writes, a new record may
   * reuse a revision number this worker has applied.
   */
  private applied: ModelAssignment | undefined;
  /**
   * The record that failed, until one is applied: tried again only after a backoff (30 s, doubling to 30 min),
   * so a broken version is not reloaded every poll, and one that failed for a passing reason (the Hub was down)
   * is not given up.
   */
  private failed: ModelAssignment | undefined;
  private failedAttempts = 0;
  private retryAt = 0;
  /**
   * Records followed so far (applied or queued): one not yet applied when a later one is followed is dropped, a
   * load for it is not switched to, and a widening gives up (a rollback waits for none of them).
   */
  private followed = 0;
  /** A failed record is being tried again from the heartbeat. */
  private retrying = false;
  /** The last record followed: following it again (a retry) does not count as a later one. */
  private lastFollowed: ModelAssignment | undefined;
  /** The revision being applied now, which the heartbeat's status reports as `loading`. */
  private applyingRevision: number | undefined;
  /** A production left on one session by failed widenings is tried again from the heartbeat after this. */
  private widenFailures = 0;
  private widenRetryAt = 0;
  /** Called before a model is retired, so queued shadow work for it is dropped rather than waited for. */
  private readonly retiringListeners: Array<(model: LoadedModel) => void> = [];
  private lastError: string | undefined;
  private switchedAt: string | undefined;
  private applying: Promise<void> = Promise.resolve();
  /** The version being fetched for a load, and how to call its pull off (a newer record no longer names it). */
  private pulling: { ref: ModelVersionRef; controller: AbortController } | undefined;
  private watcher: { stop(): Promise<void> } | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private readonly subscribers: Redis[] = [];
  private stopped = false;

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    @Inject(REDIS) redis: Redis,
    private readonly metrics: WorkerMetrics,
    private readonly heartbeat: Heartbeat,
  ) {
    this.store = new AssignmentStore(redis, config.queuePrefix);
  }

  /** Loads what the assignment names (or MODEL_DIR without one) and starts following the assignment. */
  async load(): Promise<void> {
    const assignment = this.config.followAssignment ? await this.store.current() : undefined;
    if (assignment) {
      await this.apply(assignment, 0);
      if (!this.production) {
        // The assigned production cannot be loaded (the registry is unreachable, the version is broken):
        // serve MODEL_DIR rather than nothing; the status says so.
        this.logger.warn(`serving MODEL_DIR instead: ${this.lastError}`);
        this.production = await this.loadStatic();
        this.published();
      }
    } else {
      this.production = await this.loadStatic();
      this.published();
    }
    if (!this.config.followAssignment) return;
    this.watcher = this.store.watch((next) => void this.follow(next), {
      pollMs: this.config.assignmentPollMs,
      subscriber: () => {
        const connection = connectRedis(this.config.redis, { maxRetriesPerRequest: null });
        connection.on('error', () => undefined); // the poll covers an unreachable Redis
        this.subscribers.push(connection);
        return connection;
      },
      onError: (error) => this.logger.warn(`following the model assignment: ${error.message}`),
    });
    this.statusTimer = setInterval(() => void this.tick(), this.config.heartbeatIntervalMs);
    this.statusTimer.unref();
    await this.reportStatus();
  }

  get ready(): boolean {
    return this.production !== undefined && this.production.broken === undefined;
  }

  /** Set when an inference thread serving clients has died; the worker must restart. */
  get failure(): Error | undefined {
    return (
      this.production?.broken ?? (this.candidate?.mode === 'canary' ? this.candidate.model.broken : undefined)
    );
  }

  /** How long the models that answer clients have had nothing to do, in ms: shadow work waits for a quiet spell. */
  get foregroundIdleMs(): number {
    const production = this.production?.idleForMs ?? Infinity;
    const canary = this.candidate?.mode === 'canary' ? this.candidate.model.idleForMs : Infinity;
    return Math.min(production, canary);
  }

  /**
   * The model that answers this job and the one that scores beside it. A job id always lands on the same side
   * (a hash of the id against the candidate's share), so a retried job meets the same version.
   */
  route(jobId: string): Route {
    const production = this.production;
    if (!production) throw new Error('model is not loaded');
    const candidate = this.candidate;
    const routed = candidate !== undefined && routingPoint(jobId) < candidate.share;
    const answer = routed && candidate.mode === 'canary' ? candidate.model : production;
    const shadow = routed ? (candidate.mode === 'canary' ? production : candidate.model) : undefined;
    const release = answer.acquire();
    const releaseShadow = shadow?.acquire() ?? (() => undefined);
    return {
      answer,
      role: routed && candidate.mode === 'canary' ? 'canary' : 'production',
      ...(shadow && { shadow }),
      release,
      releaseShadow,
    };
  }

  /** Waits for the batches of every loaded model to finish. */
  async drain(): Promise<void> {
    await Promise.all([this.production?.idle(), this.candidate?.model.idle()]);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    // A stopping worker does not wait for a download (the next one resumes it).
    this.pulling?.controller.abort(new Error('the worker is stopping'));
    clearInterval(this.statusTimer);
    await this.watcher?.stop().catch(() => undefined);
    for (const connection of this.subscribers) connection.disconnect();
    await this.applying.catch(() => undefined);
    await this.store.removeStatus(this.heartbeat.workerId).catch(() => undefined);
    await Promise.all([this.production?.close(), this.candidate?.model.close()]);
  }

  /** `listener` hears of every model about to be retired (the shadow scorer drops its work for it). */
  onRetiring(listener: (model: LoadedModel) => void): void {
    this.retiringListeners.push(listener);
  }

  private retire(model: LoadedModel): Promise<void> {
    for (const listener of this.retiringListeners) listener(model);
    return model.retire();
  }

  private follow(assignment: ModelAssignment): Promise<void> {
    if (!this.lastFollowed || !sameRecord(assignment, this.lastFollowed)) {
      this.followed += 1;
      this.lastFollowed = assignment;
      // A rollback does not wait for the download of the version it rolls back from.
      const pull = this.pulling;
      if (pull && !namesVersion(assignment, pull.ref)) {
        pull.controller.abort(
          new Error(`assignment revision ${assignment.revision} no longer names ${pull.ref.id}`),
        );
      }
    }
    const sequence = this.followed;
    this.applying = this.applying
      .then(() => (this.stopped ? undefined : this.apply(assignment, sequence)))
      .catch((error: Error) =>
        this.logger.error(`applying revision ${assignment.revision}: ${error.message}`),
      );
    return this.applying;
  }

  /**
   * Every heartbeat: the status, a failed revision tried again once its backoff is over (watch reports a
   * revision once), and likewise a production that failed to open its lanes.
   */
  private async tick(): Promise<void> {
    if (this.widenFailures > 0 && Date.now() >= this.widenRetryAt) {
      this.widenRetryAt = Infinity; // one try at a time: widenProduction sets the next
      this.applying = this.applying.then(() => this.widenProduction());
    }
    if (this.failed !== undefined && !this.retrying && Date.now() >= this.retryAt) {
      // One try at a time: heartbeats during a long load do not queue more.
      this.retrying = true;
      try {
        const current = await this.store.current().catch(() => undefined);
        if (current) await this.follow(current);
      } finally {
        this.retrying = false;
      }
      return;
    }
    await this.reportStatus();
  }

  /**
   * Brings the loaded models to what the assignment names. On failure the production serving stays (a candidate
   * let go to make room is not reloaded until the next revision); the status says what failed. `sequence`: the
   * count of records followed when this one was (0: the assignment found at start, which is not a change this
   * worker followed); once a later one is followed, this one is given up.
   */
  private async apply(assignment: ModelAssignment, sequence: number): Promise<void> {
    // The record applied before, unless a partial or superseded apply since changed what is loaded.
    if (this.applied && sameRecord(assignment, this.applied) && this.holds(assignment)) return;
    if (this.failed && sameRecord(assignment, this.failed) && Date.now() < this.retryAt) return;
    if (this.superseded(sequence)) return; // the later one, queued behind, decides
    const started = performance.now();
    this.applyingRevision = assignment.revision;
    try {
      await this.applyNow(assignment, started, sequence);
    } finally {
      this.applyingRevision = undefined;
    }
    // After the switch is done and reported: it serves already, the lanes only add throughput. A later record
    // waiting goes first (it widens what it leaves serving).
    if (!this.superseded(sequence)) await this.widenProduction();
  }

  /** Whether the loaded models are the ones `assignment` names, in its roles. */
  private holds(assignment: ModelAssignment): boolean {
    const wanted = assignment.candidate;
    const candidate = this.candidate;
    if (!this.production?.isVersion(assignment.production)) return false;
    if (!wanted || !candidate) return wanted === candidate;
    return (
      candidate.model.isVersion(wanted.version) &&
      candidate.mode === wanted.mode &&
      candidate.share === wanted.share
    );
  }

  /** Whether the newest record followed names `model`, as production or as candidate: worth keeping loaded. */
  private wantedByLatest(model: LoadedModel): boolean {
    const latest = this.lastFollowed;
    return (
      latest !== undefined &&
      (model.isVersion(latest.production) ||
        (latest.candidate !== undefined && model.isVersion(latest.candidate.version)))
    );
  }

  /** A later record was followed since this one (or the worker stops): this one is not worth finishing. */
  private superseded(sequence: number): boolean {
    return this.stopped || this.followed > sequence;
  }

  /** A load's error as this apply reports it: a pull called off for a newer record is no failure of this one. */
  private givenUpFor(error: Error, assignment: ModelAssignment, sequence: number): Error {
    return error instanceof PullCancelledError && this.superseded(sequence)
      ? new SupersededError(assignment.revision)
      : error;
  }

  private async applyNow(assignment: ModelAssignment, started: number, sequence: number): Promise<void> {
    await this.reportStatus('loading', assignment.revision);
    const wanted = assignment.candidate;
    const errors: string[] = [];
    try {
      // A candidate whose thread died (a shadow's failures only show in its metrics) is never given a role.
      if (this.candidate?.model.broken) {
        const dead = this.candidate.model;
        this.candidate = undefined;
        this.logger.warn(
          `candidate ${describe(dead)} lost its inference thread: it is loaded again if wanted`,
        );
        await this.retire(dead);
      }
      // A candidate that is neither wanted as candidate nor about to be production goes first (memory bound).
      const current = this.candidate;
      // Kept only when production stays: otherwise it goes first and comes back after the switch (two sessions).
      const keepCandidate =
        current &&
        wanted &&
        current.model.isVersion(wanted.version) &&
        this.production?.isVersion(assignment.production);
      const candidateBecomesProduction = current?.model.isVersion(assignment.production) === true;
      if (current && !keepCandidate) {
        this.candidate = undefined;
        if (!candidateBecomesProduction) await this.retire(current.model);
      }

      let retiring: Promise<void> | undefined;
      if (!this.production?.isVersion(assignment.production)) {
        const next = candidateBecomesProduction
          ? current!.model
          : await this.loadVersion(assignment.production, 'production', this.production !== undefined).catch(
              (error: Error) => Promise.reject(this.givenUpFor(error, assignment, sequence)),
            );
        const supersededMeanwhile = this.superseded(sequence);
        const latest = this.lastFollowed;
        if (
          supersededMeanwhile &&
          next !== current?.model &&
          !(latest && next.isVersion(latest.production))
        ) {
          // A rollback (or any newer revision) came while this loaded: never serve what it replaces.
          await next.close();
          throw new SupersededError(assignment.revision);
        }
        const previous = this.production;
        this.production = next;
        this.logger.log(
          `serving ${describe(next)} as production (assignment revision ${assignment.revision})`,
        );
        retiring = previous && this.retire(previous);
        if (supersededMeanwhile) {
          // The newer record names this production too: it serves, and the newer record does the rest.
          await retiring;
          throw new SupersededError(assignment.revision);
        }
      }
      // What a rollback may go back to, once it serves (whatever becomes of the candidate); a lost mark only makes
      // a rollback pass over this version.
      if (this.production.isVersion(assignment.production)) await this.markServed(assignment.production);

      if (wanted && this.candidate?.model.isVersion(wanted.version)) {
        this.candidate = { ...this.candidate, mode: wanted.mode, share: wanted.share };
      } else if (wanted) {
        if (this.production.isVersion(wanted.version)) {
          errors.push(`candidate ${wanted.version.id} is production already`);
        } else {
          // The old production is freed before a candidate is loaded: two versions at most.
          await retiring;
          try {
            const model = await this.loadVersion(wanted.version, 'candidate', true);
            if (this.superseded(sequence)) {
              // Kept when the newer record names it (its share changed, or it is promoted): not loaded twice.
              if (this.wantedByLatest(model))
                this.candidate = { model, mode: wanted.mode, share: wanted.share };
              else await model.close();
              throw new SupersededError(assignment.revision);
            }
            this.candidate = { model, mode: wanted.mode, share: wanted.share };
            this.logger.log(`${describe(model)} is the candidate (${wanted.mode}, share ${wanted.share})`);
          } catch (error) {
            const reason = this.givenUpFor(error as Error, assignment, sequence);
            if (reason instanceof SupersededError) throw reason;
            errors.push(`candidate ${wanted.version.id}: ${reason.message}`);
          }
        }
      }
      await retiring;
    } catch (error) {
      if (error instanceof SupersededError) {
        this.logger.log(error.message);
        this.published();
        return;
      }
      errors.unshift(`production ${assignment.production.id}: ${(error as Error).message}`);
    }
    if (errors.length > 0) {
      this.failedAttempts = this.failed && sameRecord(assignment, this.failed) ? this.failedAttempts + 1 : 1;
      this.failed = assignment;
      this.retryAt = Date.now() + retryBackoffMs(this.failedAttempts);
      this.lastError = errors.join('; ');
      this.metrics.reloaded('failed');
      this.logger.error(`assignment revision ${assignment.revision} refused: ${this.lastError}`);
    } else {
      this.applied = assignment;
      this.failed = undefined;
      this.lastError = undefined;
      this.switchedAt = new Date().toISOString();
      this.metrics.reloaded('success');
      // A worker that starts after the change did not switch: its boot is not a switch time.
      if (sequence > 0) this.metrics.switched((Date.now() - Date.parse(assignment.change.at)) / 1000);
      this.logger.log(
        `assignment revision ${assignment.revision} applied in ${Math.round(performance.now() - started)} ms`,
      );
    }
    this.published();
    await this.reportStatus(errors.length > 0 ? 'failed' : 'serving', assignment.revision);
  }

  /**
   * Production on the lanes once the version it replaced is closed. Given up at once when a newer assignment
   * waits (a rollback does not wait for it) or the worker stops: the next apply widens. A failure leaves it
   * serving on its one session, logged, and tried again from the heartbeat after a backoff (30 s, doubling).
   */
  private async widenProduction(): Promise<void> {
    const production = this.production;
    if (!production?.narrow) {
      this.widenFailures = 0;
      return;
    }
    if (this.stopped) return;
    const sequence = this.followed;
    try {
      const widened = await production.widen(() => this.superseded(sequence));
      if (widened) {
        this.widenFailures = 0;
        this.published();
      }
    } catch (error) {
      this.widenFailures += 1;
      this.widenRetryAt = Date.now() + retryBackoffMs(this.widenFailures);
      this.logger.warn(`${describe(production)} stays on one session: ${(error as Error).message}`);
    }
  }

  /**
   * `narrow`: one session rather than the lanes (a candidate, or a production loaded while another serves),
   * so that a worker holds production's lanes (and solo lane) plus one session at most, not two versions' lanes.
   */
  private async loadVersion(ref: ModelVersionRef, role: string, narrow: boolean): Promise<LoadedModel> {
    const location = parseModelLocation(ref.location);
    const registry = openModelRegistry(
      location.repo ? `hf://models/${location.repo}` : dirname(location.dir ?? ref.location),
      this.config.hub,
    );
    const pull = { ref, controller: new AbortController() };
    this.pulling = pull;
    let dir: string;
    try {
      dir = await registry.materialize(ref, {
        cacheDir: this.config.modelCacheDir,
        variant: this.config.modelVariant,
        log: (line) => this.logger.log(line),
        signal: pull.controller.signal,
      });
    } finally {
      if (this.pulling === pull) this.pulling = undefined;
    }
    this.logger.log(`loading ${role} ${ref.id} from ${dir}`);
    return this.loadDirectory(
      dir,
      ref,
      location.repo ? basename(location.repo) : basename(dir),
      undefined,
      narrow,
    );
  }

  private loadStatic(): Promise<LoadedModel> {
    return this.loadDirectory(
      this.config.modelDir,
      { id: STATIC_VERSION },
      this.config.modelName,
      this.config.modelVersion,
    );
  }

  /** `registryVersion`: the registry's id and location; MODEL_DIR has an id of its own and no location. */
  private async loadDirectory(
    dir: string,
    registryVersion: { id: string; location?: string },
    name: string,
    version?: string,
    narrow = false,
  ): Promise<LoadedModel> {
    const started = performance.now();
    // The run-cost gauges show production's cost model: a candidate's (one session, every core) differs.
    const loaded: { model?: LoadedModel } = {}; // set once loaded; batches may report before that
    const isProduction = () => loaded.model !== undefined && this.production === loaded.model;
    const model = await LoadedModel.load({
      dir,
      variant: this.config.modelVariant,
      name,
      version,
      versionId: registryVersion.id,
      versionLocation: registryVersion.location,
      intraOpThreads: this.config.intraOpThreads,
      inferenceLanes: this.config.inferenceLanes,
      soloLane: this.config.soloLane,
      narrow,
      niceness: this.config.inferenceNice,
      allowSpinning: this.config.intraOpSpinning,
      maxTokens: this.config.maxTokens,
      batch: this.config.batch,
      onBatch: (stats) => this.metrics.batch(isProduction() ? stats : { ...stats, runCost: undefined }),
      onBatchSplit: () => this.metrics.batchSplit(),
      onTokenized: (ms) => this.metrics.tokenized(ms),
      onLanesChanged: () => this.published(),
      quietElsewhere: () => this.othersIdle(loaded.model),
    });
    loaded.model = model;
    const synthetic = model.synthetic ? ' (SYNTHETIC weights: predictions are meaningless)' : '';
    this.logger.log(
      `model ${describe(model)} loaded from ${dir}${synthetic} in ${Math.round(performance.now() - started)} ms`,
    );
    return model;
  }

  /** Whether every loaded version but `model` (production, candidate) has nothing to run. */
  private othersIdle(model: LoadedModel | undefined): boolean {
    return [this.production, this.candidate?.model].every(
      (other) => other === undefined || other === model || !other.busy,
    );
  }

  /** The model-info metric: every loaded version with its role. */
  private published(): void {
    const serving: Array<{ model: LoadedModel; role: string }> = [];
    if (this.production) serving.push({ model: this.production, role: 'production' });
    if (this.candidate)
      serving.push({ model: this.candidate.model, role: `candidate-${this.candidate.mode}` });
    this.metrics.models(
      serving.map(({ model, role }) => ({
        name: model.info.name,
        version: model.info.version,
        dtype: model.variant,
        role,
        quantization: model.quantization,
        lanes: { count: model.lanes, solo: model.hasSoloLane },
      })),
    );
  }

  private async markServed(version: ModelVersionRef): Promise<void> {
    await this.store
      .markServed(version)
      .catch((error: Error) => this.logger.warn(`recording ${version.id} as served: ${error.message}`));
  }

  private async reportStatus(state?: WorkerModelStatus['state'], revision?: number): Promise<void> {
    if (!this.config.followAssignment) return;
    const serving: WorkerModelStatus['serving'] = [];
    const served = (model: LoadedModel, role: 'production' | 'candidate') => ({
      id: model.versionId,
      ...(model.versionLocation !== undefined && { location: model.versionLocation }),
      modelVersion: model.info.version,
      role,
    });
    if (this.production) serving.push(served(this.production, 'production'));
    if (this.candidate) serving.push(served(this.candidate.model, 'candidate'));
    const applying = this.applyingRevision;
    const status: WorkerModelStatus = {
      workerId: this.heartbeat.workerId,
      revision: revision ?? applying ?? this.failed?.revision ?? this.applied?.revision ?? 0,
      state: state ?? (applying !== undefined ? 'loading' : this.failed ? 'failed' : 'serving'),
      serving,
      ...(this.lastError && { error: this.lastError }),
      ...(this.switchedAt && { switchedAt: this.switchedAt }),
      at: new Date().toISOString(),
    };
    await this.store
      .reportStatus(status)
      .catch((error: Error) => this.logger.warn(`reporting the model status: ${error.message}`));
  }
}

/** Whether the record names `ref` as production or as candidate. */
function namesVersion(assignment: ModelAssignment, ref: ModelVersionRef): boolean {
  return sameVersion(assignment.production, ref) || sameVersion(assignment.candidate?.version, ref);
}

/** Whether two assignment records are the same one (not merely the same revision number). */
function sameRecord(a: ModelAssignment, b: ModelAssignment): boolean {
  return assignmentKey(a) === assignmentKey(b);
}

/** A revision given up part way because a newer one was followed meanwhile (not a failure). */
class SupersededError extends Error {
  constructor(revision: number) {
    super(`assignment revision ${revision} superseded while it loaded: left to the newer one`);
  }
}

/** Wait before retrying after `attempts` failures in a row: 30 s, doubling, at most 30 min. */
function retryBackoffMs(attempts: number): number {
  return Math.min(30 * 60_000, 30_000 * 2 ** (attempts - 1));
}

function describe(model: LoadedModel): string {
  return `${model.info.name}@${model.info.version}`;
}
