/** Measuring load against a started stack: counters before and after, process usage, answers. */
import { Agent, request } from 'node:http';
import { collectedProfiles } from '../cpu-profile';
import { drive, DriveOptions, Outcome, Send, statusCounts } from '../load-driver';
import { ProcessMonitor } from '../process-metrics';
import { counterDelta, WorkerCounters, workerCounters, workerRunCost, workerSoloLane } from '../prometheus';
import type { Measurement } from '../results';
import type { Stack } from '../stack';
import { paddingFromTotals, perSecond, summarize } from '../stats';

export type RowBase = Pick<Measurement, 'id' | 'scenario' | 'variant' | 'label'>;

export interface Served {
  measurement: Measurement;
  outcomes: Outcome[];
  counters: WorkerCounters;
}

/**
 * Drives `items` through the stack with `clients` concurrent clients and measures the answered ones.
 * Any answer other than 200 fails the measurement unless `tolerateStatuses` (overload) says otherwise.
 */
export async function measureServed<T>(
  stack: Stack,
  base: RowBase,
  items: readonly T[],
  clients: number,
  send: Send<T>,
  options: DriveOptions & { padding?: boolean; tolerateRefusals?: boolean } = {},
): Promise<Served> {
  const before = await stack.workerCounters();
  const monitor = new ProcessMonitor(stack.pids).start();
  stack.profiler?.start();
  const { seconds, outcomes } = await drive(items, clients, send, options);
  const usage = monitor.stop();
  if (stack.profiler) collectedProfiles.push(...(await stack.profiler.stop(base.id)));
  const samples = await stack.workerSamples();
  const counters = counterDelta(before, workerCounters(samples));
  const runCost = workerRunCost(samples);
  const soloLane = workerSoloLane(samples);
  const unexpected = outcomes.filter(
    (outcome) => outcome.status !== 200 && !(options.tolerateRefusals && outcome.status === 429),
  );
  if (unexpected.length > 0) {
    const first = unexpected[0];
    throw new Error(
      `${unexpected.length} of ${outcomes.length} requests were not answered with 200 (first: ${first.status} ${first.error ?? ''})`,
    );
  }
  const answered = outcomes.filter((outcome) => outcome.status === 200);
  const texts = answered.reduce((sum, outcome) => sum + outcome.texts, 0);
  const tokens = answered.reduce((sum, outcome) => sum + outcome.tokens, 0);
  const extra: Record<string, number | string> = {
    clients,
    requests: outcomes.length,
    ...Object.fromEntries(
      Object.entries(statusCounts(outcomes)).map(([status, n]) => [`status${status}`, n]),
    ),
    modelBusyRatio: counters.busySeconds / seconds,
    inferenceBatches: counters.batches,
    meanBatchTexts: counters.batches > 0 ? counters.batchTexts / counters.batches : 0,
    // The worker's packing-policy cost model at the end (it calibrates at load and refits as it runs).
    ...(runCost && { runOverheadMs: runCost.overheadMs, runPerTokenMs: runCost.perTokenMs }),
    // Lone runs go to a session with every core only once the worker keeps its solo lane (ADR 0009).
    ...(soloLane !== undefined && { soloLaneAtEnd: soloLane ? 'on' : 'off' }),
  };
  // Where a request's time goes, by the job's own timings: waiting for a worker, then being computed.
  const queue = answered.filter((o) => o.queueMs !== undefined).map((o) => o.queueMs as number);
  const processing = answered
    .filter((o) => o.processingMs !== undefined)
    .map((o) => o.processingMs as number);
  if (queue.length > 0) extra.jobQueueMsP50 = summarize(queue).p50;
  if (processing.length > 0) extra.jobProcessingMsP50 = summarize(processing).p50;
  return {
    measurement: {
      ...base,
      status: 'ok',
      texts,
      tokens,
      seconds,
      textsPerSecond: perSecond(texts, seconds),
      tokensPerSecond: perSecond(tokens, seconds),
      latencyMs: summarize(answered.map((outcome) => outcome.latencyMs)),
      latencyOf: 'request',
      // The worker's padded-token total against the real tokens answered (exact while nothing is cached).
      paddingRatio: options.padding === false ? undefined : paddingFromTotals(tokens, counters.paddedTokens),
      ...usage,
      extra,
    },
    outcomes,
    counters,
  };
}

/**
 * One keep-alive agent for every request of the benchmark: node:http costs the load generator about half
 * the CPU of `fetch` (undici) per request, and that CPU comes out of the model's two cores on this machine.
 */
const agent = new Agent({ keepAlive: true, maxSockets: 512 });

function postJson(url: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': payload.length },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = response.statusCode ?? 0;
          try {
            resolve(status === 200 ? { status, body: JSON.parse(text) } : { status, body: text });
          } catch (error) {
            reject(error);
          }
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** POST /v1/sentiment, one text per request. */
export function httpSingle(gatewayUrl: string): Send<string> {
  return async (text) => {
    const { status, body } = await postJson(`${gatewayUrl}/v1/sentiment`, { text });
    if (status !== 200) return { status, texts: 0, tokens: 0, error: String(body).slice(0, 200) };
    const answer = body as { tokens: number; timings?: { queueMs: number; processingMs: number } };
    return { status, texts: 1, tokens: answer.tokens, ...answer.timings };
  };
}

/** POST /v1/sentiment/batch, many texts per request. */
export function httpBatch(gatewayUrl: string): Send<string[]> {
  return async (texts) => {
    const { status, body } = await postJson(`${gatewayUrl}/v1/sentiment/batch`, {
      items: texts.map((text) => ({ text })),
    });
    if (status !== 200) return { status, texts: 0, tokens: 0, error: String(body).slice(0, 200) };
    const answer = body as {
      results: Array<{ tokens: number }>;
      timings?: { queueMs: number; processingMs: number };
    };
    return {
      status,
      texts: answer.results.length,
      tokens: answer.results.reduce((sum, r) => sum + r.tokens, 0),
      ...answer.timings,
    };
  };
}

export function formatPercent(ratio: number | undefined, digits = 0): string {
  return ratio === undefined || !Number.isFinite(ratio) ? '–' : `${(ratio * 100).toFixed(digits)} %`;
}

/** "model busy 95 %, 31 texts per inference batch": where a served figure loses against the ceiling. */
/** Where the median job's time went, by the job's own timings: waiting for a worker, then being computed. */
export function jobTimingsNote(served: Served): string {
  const extra = served.measurement.extra ?? {};
  return (
    `job p50: ${Number(extra.jobQueueMsP50).toFixed(0)} ms to a worker, ` +
    `${Number(extra.jobProcessingMsP50).toFixed(0)} ms computing` +
    (extra.soloLaneAtEnd === undefined ? '' : `; solo lane ${extra.soloLaneAtEnd} at the end`)
  );
}

export function servedNote(served: Served): string {
  const extra = served.measurement.extra ?? {};
  const cost =
    extra.runPerTokenMs === undefined
      ? ''
      : `; cost model ${Number(extra.runOverheadMs).toFixed(1)} ms + ${Number(extra.runPerTokenMs).toFixed(3)} ms/token`;
  return `model busy ${formatPercent(Number(extra.modelBusyRatio))}, ${Number(extra.meanBatchTexts).toFixed(1)} texts per inference batch${cost}`;
}
