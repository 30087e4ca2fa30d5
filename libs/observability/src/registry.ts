import { Registry, collectDefaultMetrics } from 'prom-client';

/**
 * One registry per app, with Node's default metrics (CPU, memory, event loop lag, GC) and an `app`
 * label on every series so one Prometheus can tell the services apart.
 */
export function createAppRegistry(app: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ app });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Keeps a label's values to a known set; anything else is counted as `other`. */
export function boundedLabel(value: string | undefined, allowed: ReadonlySet<string>): string {
  if (value === undefined || value === '') return 'none';
  return allowed.has(value) ? value : 'other';
}

/** Nest injection token of the app's registry (createAppRegistry), which its /metrics serves. */
export const METRICS_REGISTRY = Symbol('METRICS_REGISTRY');
