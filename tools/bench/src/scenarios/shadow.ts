/**
 * Shadow at 100 %: the same idle single requests and the same 4-client load, first with production alone, then
 * with a shadow candidate scoring every text, on one stack. Clients should get the same answers at the same
 * latency: shadow scoring runs after the answer, while the answering model is idle.
 */
import IORedis from 'ioredis';
import { ModelAssignment } from '@reputation-monitor/contracts';
import { AssignmentStore } from '@reputation-monitor/model-registry';
import type { Measurement, Variant } from '../results';
import type { Stack } from '../stack';
import { ScenarioContext, throughputTexts } from './context';
import { withStack } from './full-path';
import { httpSingle, measureServed } from './served';

const SHADOW_CLIENTS = 4;

async function assign(
  store: AssignmentStore,
  next: Omit<ModelAssignment, 'revision' | 'change'>,
  reason: string,
): Promise<number> {
  const written = await store.write(() => ({
    ...next,
    change: { action: 'set-candidate', actor: 'bench', reason, at: new Date().toISOString() },
  }));
  // Every worker serving the new revision.
  for (const deadline = Date.now() + 120_000; Date.now() < deadline;) {
    const statuses = await store.statuses();
    if (
      statuses.length > 0 &&
      statuses.every((s) => s.revision === written.revision && s.state === 'serving')
    )
      return written.revision;
    if (statuses.some((s) => s.revision === written.revision && s.state === 'failed'))
      throw new Error(`the worker refused the assignment: ${statuses.map((s) => s.error).join('; ')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the worker did not apply the assignment within 120 s');
}

export async function shadow(context: ScenarioContext, variant: Variant): Promise<Measurement[]> {
  const texts = context.tweets.slice(0, context.options.idleRequests);
  const loadTexts = throughputTexts(context).slice(0, 400);
  const dir = context.options.modelDir;
  return withStack(
    context,
    variant,
    'shadow',
    { workerEnv: { ASSIGNMENT_POLL_MS: '500' } },
    async (stack: Stack) => {
      const redis = new IORedis(context.options.redisUrl, { maxRetriesPerRequest: 3 });
      const store = new AssignmentStore(redis, stack.prefix);
      try {
        // The same graph under two version ids: two sessions, the second scoring every text in shadow.
        await assign(store, { production: { id: 'bench-production', location: dir } }, 'production alone');
        const single = httpSingle(stack.gatewayUrl);
        const rows: Measurement[] = [];
        for (const [mode, candidate] of [
          ['off', undefined],
          ['100 %', { version: { id: 'bench-shadow', location: dir }, mode: 'shadow' as const, share: 1 }],
        ] as const) {
          if (candidate) {
            await assign(
              store,
              { production: { id: 'bench-production', location: dir }, candidate },
              'shadow every text',
            );
          }
          for (const text of texts.slice(0, 3)) await single(text);
          // Shadow batches run on the same worker: its padded-token counters no longer describe the answers alone.
          const idle = await measureServed(
            stack,
            {
              id: `shadow-idle-${mode === 'off' ? 'off' : 'on'}:${variant}`,
              scenario: 'shadow',
              variant,
              label: `idle single requests, shadow ${mode}`,
            },
            texts,
            1,
            single,
            { padding: false },
          );
          const load = await measureServed(
            stack,
            {
              id: `shadow-load-${mode === 'off' ? 'off' : 'on'}:${variant}`,
              scenario: 'shadow',
              variant,
              label: `single requests from ${SHADOW_CLIENTS} clients, shadow ${mode}`,
            },
            loadTexts,
            SHADOW_CLIENTS,
            single,
            { padding: false },
          );
          rows.push(idle.measurement, load.measurement);
        }
        const [idleOff, loadOff, idleOn, loadOn] = rows;
        const ratio = (on: Measurement, off: Measurement) =>
          (on.latencyMs?.p50 ?? NaN) / (off.latencyMs?.p50 ?? NaN);
        // Shadow work waits for quiet spells: once the clients stop, it catches up on every text they sent.
        const sent = (idleOn.texts ?? 0) + (loadOn.texts ?? 0);
        let counters = await stack.workerCounters();
        for (const deadline = Date.now() + 120_000; Date.now() < deadline;) {
          if (counters.shadowScored + counters.shadowDropped >= sent) break;
          await new Promise((resolve) => setTimeout(resolve, 250));
          counters = await stack.workerCounters();
        }
        idleOn.note = `p50 ${ratio(idleOn, idleOff).toFixed(2)}x shadow off`;
        loadOn.note =
          `p50 ${ratio(loadOn, loadOff).toFixed(2)}x shadow off; of the ${sent} texts sent with shadow on, ` +
          `${counters.shadowScored} were scored in shadow once the clients paused, ${counters.shadowDropped} dropped`;
        return rows;
      } finally {
        redis.disconnect();
      }
    },
  );
}
