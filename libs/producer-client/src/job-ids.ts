import { createHash, randomUUID } from 'node:crypto';

export interface DraftItem {
  text: string;
  id?: string;
}

/**
 * Job ids. When the caller names every text, the job id is derived from those names, so a retried
 * request maps to the job already queued and nothing is inferred twice. Otherwise it is random.
 * A tenant's ids start with `<tenant>~` ("~" is in neither tenant names nor client ids), so two tenants
 * using the same names never meet on one job.
 */
export function jobIdFor(
  items: readonly DraftItem[],
  tenant?: string,
): { jobId: string; deterministic: boolean } {
  const scope = tenant === undefined ? '' : `${tenant}~`;
  const ids = items.map((item) => item.id);
  if (ids.every((id): id is string => typeof id === 'string')) {
    if (ids.length === 1) return { jobId: `${scope}t-${ids[0]}`, deterministic: true };
    const digest = createHash('sha256').update(ids.join('\n')).digest('hex').slice(0, 40);
    return { jobId: `${scope}b-${digest}`, deterministic: true };
  }
  return { jobId: `${scope}${randomUUID()}`, deterministic: false };
}

/** Whether `jobId` can be a job of `tenant` (none: the ids without a tenant's scope), known without reading it. */
export function jobIdInScope(jobId: string, tenant: string | undefined): boolean {
  return tenant === undefined ? !jobId.includes('~') : jobId.startsWith(`${tenant}~`);
}

/** Prediction ids: the caller's id, or the job id (plus the position when the job has several texts). */
export function predictionId(jobId: string, item: DraftItem, index: number, count: number): string {
  if (item.id !== undefined) return item.id;
  return count === 1 ? jobId : `${jobId}-${index}`;
}
