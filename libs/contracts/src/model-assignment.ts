/**
 * Which model versions the inference workers serve: one versioned record in Redis
 * (`redisKeys.modelAssignment`), written by admins (gateway admin API, `npm run model:promote`), read and
 * followed by every worker, read by the drift monitor. This file is the one codec of that record, of its
 * audit entries and of the workers' status reports.
 */

/** Shadow: the candidate scores a share of texts beside production and answers nobody. Canary: it answers a share of jobs. */
export const CANDIDATE_MODES = ['shadow', 'canary'] as const;
export type CandidateMode = (typeof CANDIDATE_MODES)[number];

/** One model version as the registry names it, and where a worker fetches it from. */
export interface ModelVersionRef {
  /** The registry's id: a directory name (local registry) or a commit id (Hub registry). */
  id: string;
  /** `hf://models/<owner>/<name>@<commit>` or an absolute directory every worker can read. */
  location: string;
}

export interface CandidateAssignment {
  version: ModelVersionRef;
  mode: CandidateMode;
  /** Share of jobs (canary) or of texts' jobs (shadow) routed to the candidate, in (0, 1]. */
  share: number;
}

/** Who changed the assignment, when and why: every record carries its own audit line. */
export interface AssignmentChange {
  action: 'promote' | 'rollback' | 'set-candidate' | 'clear-candidate' | 'initialize';
  /** An admin key's fingerprint (`key:<sha256 prefix>`) or an operator name from the CLI (`cli:<user>`). */
  actor: string;
  reason: string;
  at: string;
  /** Promoted without a passing gate report (`--force`); kept in the audit history. */
  forced?: boolean;
}

export interface ModelAssignment {
  /** Increases by one with every change; workers and the status compare it. */
  revision: number;
  production: ModelVersionRef;
  candidate?: CandidateAssignment;
  change: AssignmentChange;
}

/** Encoded as JSON with a fixed key order. */
export function encodeAssignment(assignment: ModelAssignment): string {
  const { revision, production, candidate, change } = assignment;
  return JSON.stringify({
    revision,
    production: { id: production.id, location: production.location },
    ...(candidate && {
      candidate: {
        version: { id: candidate.version.id, location: candidate.version.location },
        mode: candidate.mode,
        share: candidate.share,
      },
    }),
    change: {
      action: change.action,
      actor: change.actor,
      reason: change.reason,
      at: change.at,
      ...(change.forced && { forced: true }),
    },
  });
}

export type AssignmentCheck = { ok: true; assignment: ModelAssignment } | { ok: false; reason: string };

export function decodeAssignment(text: string): AssignmentCheck {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `not JSON (${(error as Error).message})` };
  }
  const record = value as Partial<ModelAssignment> | null;
  if (typeof record !== 'object' || record === null) return { ok: false, reason: 'not an object' };
  if (!Number.isSafeInteger(record.revision) || (record.revision as number) < 1)
    return { ok: false, reason: 'revision must be a positive integer' };
  const production = versionProblem(record.production);
  if (production) return { ok: false, reason: `production ${production}` };
  if (record.candidate !== undefined) {
    const candidate = record.candidate as Partial<CandidateAssignment>;
    const version = versionProblem(candidate?.version);
    if (version) return { ok: false, reason: `candidate.version ${version}` };
    if (!(CANDIDATE_MODES as readonly unknown[]).includes(candidate.mode))
      return { ok: false, reason: 'candidate.mode must be shadow or canary' };
    if (!shareOk(candidate.share)) return { ok: false, reason: 'candidate.share must be in (0, 1]' };
  }
  const change = record.change as Partial<AssignmentChange> | undefined;
  if (typeof change?.action !== 'string' || typeof change.actor !== 'string' || typeof change.at !== 'string')
    return { ok: false, reason: 'change must name its action, actor and time' };
  return { ok: true, assignment: record as ModelAssignment };
}

export function shareOk(share: unknown): share is number {
  return typeof share === 'number' && Number.isFinite(share) && share > 0 && share <= 1;
}

function versionProblem(version: unknown): string | undefined {
  const ref = version as Partial<ModelVersionRef> | undefined;
  if (typeof ref?.id !== 'string' || ref.id === '') return 'must have an id';
  if (typeof ref.location !== 'string' || ref.location === '') return 'must have a location';
  return undefined;
}

/**
 * Where a job goes while a candidate is assigned: a stable hash of the job id into [0, 1), so a retried job
 * (same id) meets the same version, and a share of 0.1 routes about a tenth of jobs. FNV-1a, 32 bits, then
 * murmur3's finalizer: FNV alone skews ids that differ only in their last characters (t-tweet-0, t-tweet-1, ...).
 */
export function routingPoint(jobId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < jobId.length; i++) {
    hash ^= jobId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b) >>> 0;
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35) >>> 0;
  hash ^= hash >>> 16;
  return (hash >>> 0) / 0x1_0000_0000;
}

/** A worker's report of what it serves, kept per worker beside the assignment. */
export interface WorkerModelStatus {
  workerId: string;
  /** The assignment revision the worker has applied (or is applying). */
  revision: number;
  state: 'serving' | 'loading' | 'failed';
  /**
   * Versions loaded and their roles; `location` is the registry's (as in the assignment), absent for MODEL_DIR
   * served without one, which is no version of the registry whatever its id.
   */
  serving: Array<{ id: string; location?: string; modelVersion: string; role: 'production' | 'candidate' }>;
  /** Why the latest assignment could not be applied (the old versions keep serving). */
  error?: string;
  /** When the worker started serving `revision` (ISO 8601). */
  switchedAt?: string;
  at: string;
}

export function encodeWorkerStatus(status: WorkerModelStatus): string {
  return JSON.stringify(status);
}

export function decodeWorkerStatus(text: string): WorkerModelStatus | undefined {
  try {
    const value = JSON.parse(text) as WorkerModelStatus;
    if (
      typeof value?.workerId !== 'string' ||
      !Number.isSafeInteger(value.revision) ||
      !Array.isArray(value.serving)
    )
      return undefined;
    return value;
  } catch {
    return undefined;
  }
}
