import {
  CANDIDATE_MODES,
  shareOk,
  type AssignmentChange,
  type CandidateMode,
  type ModelAssignment,
  type ModelVersionRef,
  type WorkerModelStatus,
} from '@reputation-monitor/contracts';
import type { AssignmentStore } from './assignment-store';
import { ModelAdminError } from './model-admin-error';
import type { ModelVersionInfo } from './model-version';
import { gateVerdict, type ModelRegistry } from './registry';

export { ModelAdminError, type ModelAdminErrorKind } from './model-admin-error';

/** Who asks for a change and why; both are kept in the assignment's audit line. */
export interface Actor {
  actor: string;
  reason: string;
}

export interface ModelAdminOptions {
  /** Notes worth an operator's eye (a candidate assigned without a passing gate); nowhere by default. */
  log?: (line: string) => void;
}

const MAX_ACTOR_LENGTH = 200;
const MAX_REASON_LENGTH = 1_000;
const MAX_VERSION_LENGTH = 1_000;
const STALE_HISTORY_ATTEMPTS = 5;

/** The version a ref names is the same when both its id and its location are. */
export function sameVersion(
  a: (Pick<ModelVersionRef, 'id'> & Partial<ModelVersionRef>) | undefined,
  b: ModelVersionRef | undefined,
): boolean {
  return a !== undefined && b !== undefined && a.id === b.id && a.location === b.location;
}

function refOf(info: ModelVersionInfo): ModelVersionRef {
  return { id: info.id, location: info.location };
}

/** The history moved on between reading it and writing; read it again. */
class StaleHistory extends Error {}

/**
 * What admins do to the assignment the workers follow: promote a version to production (gated), roll
 * back, assign or clear a candidate (shadow or canary), and see what the workers serve. Every change is one
 * compare-and-set write of the store, carrying who made it, when and why.
 */
export class ModelAdmin {
  private readonly log: (line: string) => void;

  constructor(
    private readonly store: AssignmentStore,
    private readonly registry: ModelRegistry,
    options: ModelAdminOptions = {},
  ) {
    this.log = options.log ?? (() => undefined);
  }

  /**
   * Makes a version production. Refuses a version without a passing gate (gateVerdict) unless force
   * (recorded as change.forced). Promoting the current candidate clears the candidate; another candidate
   * stays. Works as the first write too (action 'initialize' when there was no record).
   */
  async promote(input: Actor & { version: string; force?: boolean }): Promise<ModelAssignment> {
    const actor = checkActor(input);
    const info = await this.version(input.version);
    const gate = gateVerdict(info);
    if (!gate.passed && input.force !== true) {
      throw new ModelAdminError(
        'gate_not_passed',
        `${info.id} cannot be promoted: ${gate.why}; promote it with force to override the gate`,
      );
    }
    const forced = !gate.passed;
    if (forced)
      this.log(`promoting ${info.id} without a passing gate (forced by ${actor.actor}): ${gate.why}`);
    const production = refOf(info);
    return this.store.write((current) => {
      if (current && sameVersion(current.production, production)) {
        throw new ModelAdminError(
          'invalid',
          `${info.id} is already production (revision ${current.revision})`,
        );
      }
      const candidate =
        current?.candidate && !sameVersion(current.candidate.version, production)
          ? current.candidate
          : undefined;
      return {
        production,
        ...(candidate && { candidate }),
        change: change(current ? 'promote' : 'initialize', actor, forced),
      };
    });
  }

  /**
   * Back to the production before the current one: the newest in the history that differs from it, that no
   * later rollback left, and that a worker served. So a second rollback goes one version further back rather than
   * undoing the first (promote a version to return to it), and versions every worker refused (failed promotions)
   * are skipped. Where no worker ever reported serving any version (workers that predate the marks), the newest
   * of the others. Clears any candidate.
   */
  async rollback(input: Actor): Promise<ModelAssignment> {
    const actor = checkActor(input);
    for (let attempt = 1; attempt <= STALE_HISTORY_ATTEMPTS; attempt++) {
      const current = await this.store.current();
      if (!current) throw new ModelAdminError('no_assignment', 'there is no model assignment to roll back');
      const previous = await this.previousProduction(current);
      if (!previous) {
        throw new ModelAdminError(
          'no_previous',
          `the history has no production before ${current.production.id} to roll back to (versions a rollback ` +
            'left are not gone back to: promote one to return to it)',
        );
      }
      try {
        return await this.store.write((latest) => {
          // The previous production was looked up from `current`; a newer record needs a new look.
          if (latest?.revision !== current.revision) throw new StaleHistory();
          return { production: previous, change: change('rollback', actor) };
        });
      } catch (error) {
        if (!(error instanceof StaleHistory)) throw error;
      }
    }
    throw new ModelAdminError(
      'conflict',
      'the model assignment kept changing during the rollback; try again',
    );
  }

  /**
   * Shadow or canary with a share in (0, 1]; the candidate must differ from production and exist in the
   * registry (a gate is not required to shadow/canary, but its verdict is logged).
   */
  async setCandidate(
    input: Actor & { version: string; mode: CandidateMode; share: number },
  ): Promise<ModelAssignment> {
    const actor = checkActor(input);
    if (!(CANDIDATE_MODES as readonly unknown[]).includes(input.mode)) {
      throw new ModelAdminError(
        'invalid',
        `mode must be ${CANDIDATE_MODES.join(' or ')}, got "${String(input.mode)}"`,
      );
    }
    if (!shareOk(input.share)) {
      throw new ModelAdminError('invalid', `share must be a number in (0, 1], got ${String(input.share)}`);
    }
    const info = await this.version(input.version);
    const gate = gateVerdict(info);
    this.log(`candidate ${info.id} (${input.mode}, share ${input.share}): ${gate.why}`);
    const version = refOf(info);
    return this.store.write((current) => {
      if (!current) {
        throw new ModelAdminError('no_assignment', 'there is no production version yet: promote one first');
      }
      if (sameVersion(current.production, version)) {
        throw new ModelAdminError(
          'invalid',
          `${info.id} is production already; a candidate must differ from it`,
        );
      }
      return {
        production: current.production,
        candidate: { version, mode: input.mode, share: input.share },
        change: change('set-candidate', actor),
      };
    });
  }

  async clearCandidate(input: Actor): Promise<ModelAssignment> {
    const actor = checkActor(input);
    return this.store.write((current) => {
      if (!current) throw new ModelAdminError('no_assignment', 'there is no model assignment');
      if (!current.candidate) throw new ModelAdminError('invalid', 'there is no candidate to clear');
      return { production: current.production, change: change('clear-candidate', actor) };
    });
  }

  /**
   * The record, the live workers' statuses, whether every live worker serves the current revision, and the
   * switch time: latest switchedAt of those workers minus change.at (seconds), null until converged.
   * With no live worker nothing serves the revision, so it is not converged.
   */
  async status(): Promise<{
    assignment: ModelAssignment | undefined;
    workers: WorkerModelStatus[];
    converged: boolean;
    switchSeconds: number | null;
  }> {
    const [assignment, workers] = await Promise.all([this.store.current(), this.store.statuses()]);
    // The served versions too, not only the revision: after Redis lost writes, a revision number can be
    // reused for another record, and a worker still on the lost one reports that number.
    const converged =
      assignment !== undefined &&
      workers.length > 0 &&
      workers.every(
        (worker) =>
          worker.revision === assignment.revision &&
          worker.state === 'serving' &&
          serves(worker, 'production', assignment.production) &&
          (assignment.candidate === undefined || serves(worker, 'candidate', assignment.candidate.version)),
      );
    let switchSeconds: number | null = null;
    if (converged) {
      const switchedAt = Math.max(...workers.map((worker) => Date.parse(worker.switchedAt ?? worker.at)));
      const changedAt = Date.parse(assignment.change.at);
      if (Number.isFinite(switchedAt) && Number.isFinite(changedAt)) {
        switchSeconds = Math.max(0, (switchedAt - changedAt) / 1000);
      }
    }
    return { assignment, workers, converged, switchSeconds };
  }

  /** The audit history: the latest `limit` records, newest first (the current one first); 0 reads none. */
  history(limit = 20): Promise<ModelAssignment[]> {
    return this.store.history(limit);
  }

  /** The registry's versions, newest first, with their roles in the current assignment. */
  async versions(): Promise<Array<ModelVersionInfo & { roles: Array<'production' | 'candidate'> }>> {
    const [versions, assignment] = await Promise.all([this.registry.list(), this.store.current()]);
    return versions.map((info) => {
      const ref = refOf(info);
      const roles: Array<'production' | 'candidate'> = [];
      if (sameVersion(assignment?.production, ref)) roles.push('production');
      if (sameVersion(assignment?.candidate?.version, ref)) roles.push('candidate');
      return { ...info, roles };
    });
  }

  private async version(text: unknown): Promise<ModelVersionInfo> {
    if (typeof text !== 'string' || text.trim() === '' || text.length > MAX_VERSION_LENGTH) {
      throw new ModelAdminError('invalid', 'version must name a version of the registry (an id or a branch)');
    }
    const info = await this.registry.get(text.trim());
    if (!info) {
      throw new ModelAdminError(
        'unknown_version',
        `${text.trim()} is not a version of ${this.registry.location}`,
      );
    }
    return info;
  }

  /** What a rollback from `current` goes back to (see rollback), walking the history newest first. */
  private async previousProduction(current: ModelAssignment): Promise<ModelVersionRef | undefined> {
    const served = await this.store.servedVersions();
    const rolledBackFrom: ModelVersionRef[] = [];
    const unserved: string[] = [];
    let newerWasRollback = false;
    for await (const record of this.store.walkHistory()) {
      if (record.revision > current.revision) continue;
      // The production in force when a rollback was made is one it left.
      if (newerWasRollback) rolledBackFrom.push(record.production);
      newerWasRollback = record.change.action === 'rollback';
      if (record.revision === current.revision || sameVersion(record.production, current.production))
        continue;
      if (rolledBackFrom.some((left) => sameVersion(left, record.production))) continue;
      if (served.empty || served.has(record.production)) {
        if (unserved.length > 0)
          this.log(`rollback skips ${unserved.join(', ')}: no worker ever served them as production`);
        return record.production;
      }
      if (!unserved.includes(record.production.id)) unserved.push(record.production.id);
    }
    return undefined;
  }
}

function checkActor(input: Actor): Actor {
  const actor = typeof input?.actor === 'string' ? input.actor.trim() : '';
  const reason = typeof input?.reason === 'string' ? input.reason.trim() : '';
  if (actor === '') throw new ModelAdminError('invalid', 'actor must name who makes the change');
  if (reason === '') throw new ModelAdminError('invalid', 'reason must say why the change is made');
  if (actor.length > MAX_ACTOR_LENGTH)
    throw new ModelAdminError('invalid', `actor must be at most ${MAX_ACTOR_LENGTH} characters`);
  if (reason.length > MAX_REASON_LENGTH)
    throw new ModelAdminError('invalid', `reason must be at most ${MAX_REASON_LENGTH} characters`);
  return { actor, reason };
}

function change(
  action: AssignmentChange['action'],
  { actor, reason }: Actor,
  forced = false,
): AssignmentChange {
  return { action, actor, reason, at: new Date().toISOString(), ...(forced && { forced: true }) };
}

/** Whether the worker reports serving `version` (its id and location: a version is both) in `role`. */
function serves(
  worker: WorkerModelStatus,
  role: 'production' | 'candidate',
  version: ModelVersionRef,
): boolean {
  return worker.serving.some((served) => served.role === role && sameVersion(served, version));
}
