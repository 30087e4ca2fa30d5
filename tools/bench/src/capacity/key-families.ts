/**
 * Redis memory by key family (app-harness's keyFamily names them), so it can be put down to jobs, texts and
 * fixed state.
 */
import type { KeyFamily } from '@reputation-monitor/app-harness';

/** Families whose size grows with the jobs (or texts) a deployment has served and still keeps. */
export const PER_JOB_FAMILIES: ReadonlySet<KeyFamily> = new Set<KeyFamily>([
  'jobs',
  'completed set',
  'events stream',
  'prediction stream',
  'prediction index',
]);

export interface FamilyMemory {
  family: KeyFamily;
  keys: number;
  /** MEMORY USAGE of the sampled keys, bytes each. */
  sampledBytes: number[];
}

export interface FamilyEstimate {
  family: KeyFamily;
  keys: number;
  sampled: number;
  /** keys x the mean of the sampled keys. */
  bytes: number;
}

/** Scales each family's sample up to its key count. */
export function estimateFamilies(families: readonly FamilyMemory[]): FamilyEstimate[] {
  return families
    .map(({ family, keys, sampledBytes }) => {
      const mean = sampledBytes.length
        ? sampledBytes.reduce((sum, bytes) => sum + bytes, 0) / sampledBytes.length
        : 0;
      return { family, keys, sampled: sampledBytes.length, bytes: Math.round(mean * keys) };
    })
    .sort((a, b) => b.bytes - a.bytes || a.family.localeCompare(b.family));
}

/**
 * Indices of up to `max` keys spread evenly over `count` (all of them when count <= max), so a sample of a
 * family is not just the keys SCAN returned first.
 */
export function sampleIndices(count: number, max: number): number[] {
  if (count <= max) return Array.from({ length: count }, (_, i) => i);
  return Array.from({ length: max }, (_, i) => Math.floor((i * count) / max));
}

export interface RetainedPerJob {
  /** Bytes per completed job still kept, summed over PER_JOB_FAMILIES. */
  bytesPerJob: number;
  byFamily: Array<{ family: KeyFamily; bytesPerJob: number }>;
}

/** Memory of the per-job families over the completed jobs that are still kept (`completedJobs` > 0). */
export function retainedPerJob(estimates: readonly FamilyEstimate[], completedJobs: number): RetainedPerJob {
  const byFamily = estimates
    .filter((e) => PER_JOB_FAMILIES.has(e.family))
    .map((e) => ({ family: e.family, bytesPerJob: e.bytes / completedJobs }));
  return { bytesPerJob: byFamily.reduce((sum, f) => sum + f.bytesPerJob, 0), byFamily };
}
