/** Closed-loop load: N clients, each sending its next item as soon as its previous one is answered. */

export interface Outcome {
  /** HTTP status, 200 for a producer call that returned, 0 when the call threw. */
  status: number;
  /** Texts the answer covers (0 unless answered). */
  texts: number;
  /** Real tokens of those texts, as the answer reports them. */
  tokens: number;
  latencyMs: number;
  /** The job's own timings as the answer reports them: enqueue -> worker pickup, pickup -> results. */
  queueMs?: number;
  processingMs?: number;
  error?: string;
}

export type Send<T> = (item: T) => Promise<Omit<Outcome, 'latencyMs'>>;

export interface DriveOptions {
  /** Keep cycling through the items until this `performance.now()` time instead of sending each once. */
  until?: number;
  /** Pause a client this long after an answer with this status (e.g. after a 429), so refused clients do not spin. */
  pauseAfterMs?: (status: number) => number;
  /** A client waits this long after every answer (a quiet system: processes idle between requests). */
  gapMs?: number;
}

export interface DriveResult {
  seconds: number;
  outcomes: Outcome[];
}

/** Sends `items` with at most `clients` in flight and records every answer's status and latency. */
export async function drive<T>(
  items: readonly T[],
  clients: number,
  send: Send<T>,
  options: DriveOptions = {},
): Promise<DriveResult> {
  if (items.length === 0) return { seconds: 0, outcomes: [] };
  const outcomes: Outcome[] = [];
  let next = 0;
  const started = performance.now();
  const take = (): T | undefined => {
    if (options.until !== undefined) {
      if (performance.now() >= options.until) return undefined;
      return items[next++ % items.length];
    }
    return next < items.length ? items[next++] : undefined;
  };
  await Promise.all(
    Array.from({ length: Math.max(1, clients) }, async () => {
      for (let item = take(); item !== undefined; item = take()) {
        const t0 = performance.now();
        let outcome: Outcome;
        try {
          outcome = { ...(await send(item)), latencyMs: 0 };
        } catch (error) {
          outcome = { status: 0, texts: 0, tokens: 0, latencyMs: 0, error: (error as Error).message };
        }
        outcome.latencyMs = performance.now() - t0;
        outcomes.push(outcome);
        const pause = (options.pauseAfterMs?.(outcome.status) ?? 0) + (options.gapMs ?? 0);
        if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000, outcomes };
}

/** Count of outcomes by status, e.g. { '200': 950, '429': 310 }. */
export function statusCounts(outcomes: readonly Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const outcome of outcomes) counts[outcome.status] = (counts[outcome.status] ?? 0) + 1;
  return counts;
}
