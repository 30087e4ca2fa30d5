/**
 * The full path: HTTP -> gateway -> queue -> worker -> answer, with the built apps as child processes,
 * each scenario on a stack of its own (fresh key prefix; result cache off unless it is measured).
 */
import { runInChild } from '../in-process';
import { withPackingBound } from '../packing-bound';
import type { Measurement, Variant } from '../results';
import { startStack, Stack, StackOptions } from '../stack';
import { summarize } from '../stats';
import { chunk, duplicateWorkload, warmupTexts } from '../workload';
import { ScenarioContext, throughputTexts } from './context';
import { formatPercent, httpBatch, httpSingle, jobTimingsNote, measureServed, servedNote } from './served';

/** The worker's default RESULT_CACHE_TTL_SECONDS, for the scenario that measures the cache. */
export const DEFAULT_CACHE_TTL_SECONDS = 3600;

export async function withStack<T>(
  context: ScenarioContext,
  variant: Variant,
  scenario: string,
  settings: Partial<Pick<StackOptions, 'cacheTtlSeconds' | 'gateway' | 'gatewayEnv' | 'workerEnv'>>,
  body: (stack: Stack) => Promise<T>,
): Promise<T> {
  const { options } = context;
  const stack = await startStack({
    root: context.root,
    redisUrl: options.redisUrl,
    modelDir: options.modelDir,
    variant,
    threads: options.threads,
    scenario,
    cacheTtlSeconds: settings.cacheTtlSeconds ?? 0,
    gateway: settings.gateway ?? true,
    gatewayEnv: { ...options.gatewayEnv, ...settings.gatewayEnv },
    workerEnv: { ...options.workerEnv, ...settings.workerEnv },
    profileDir: options.profileDir,
    pinning: context.pinning,
  });
  context.log(`  stack up (prefix ${stack.prefix})`);
  try {
    return await body(stack);
  } finally {
    await stack.stop();
  }
}

/** A few requests nobody measures, with texts outside the workload, so lazy initialisation is off the clock. */
async function warmUp(stack: Stack, batchSize: number): Promise<void> {
  const single = httpSingle(stack.gatewayUrl);
  for (const text of warmupTexts(3)) await single(text);
  await httpBatch(stack.gatewayUrl)(warmupTexts(Math.min(batchSize, 16)));
}

export async function fullBatch(context: ScenarioContext, variant: Variant): Promise<Measurement[]> {
  const { batchSize, batchClients } = context.options;
  return withStack(context, variant, 'full-batch', {}, async (stack) => {
    await warmUp(stack, batchSize);
    const served = await measureServed(
      stack,
      {
        id: `full-batch:${variant}`,
        scenario: 'full-batch',
        variant,
        label: `full path, HTTP batch requests of ${batchSize}, ${batchClients} clients`,
      },
      chunk(throughputTexts(context), batchSize),
      batchClients,
      httpBatch(stack.gatewayUrl),
    );
    return [{ ...served.measurement, note: servedNote(served) }];
  });
}

export async function fullSingle(context: ScenarioContext, variant: Variant): Promise<Measurement[]> {
  const { singleClients, batchSize } = context.options;
  return withStack(context, variant, 'full-single', {}, async (stack) => {
    await warmUp(stack, batchSize);
    const served = await measureServed(
      stack,
      {
        id: `full-single:${variant}`,
        scenario: 'full-single',
        variant,
        label: `full path, HTTP single requests, ${singleClients} clients`,
      },
      throughputTexts(context),
      singleClients,
      httpSingle(stack.gatewayUrl),
    );
    return [
      await withPackingBound(
        { ...served.measurement, note: servedNote(served) },
        context.options.modelDir,
        throughputTexts(context),
        singleClients,
        context.options.workerEnv,
        context.options.threads,
      ),
    ];
  });
}

/**
 * An idle system answering one request at a time, against the model's own batch-of-one latency on
 * the same texts (ONNX Runtime alone, measured first in a child process).
 */
export async function idle(context: ScenarioContext, variant: Variant): Promise<Measurement[]> {
  const texts = context.tweets.slice(0, context.options.idleRequests);
  const baseline = {
    kind: 'batch-of-one' as const,
    modelDir: context.options.modelDir,
    variant,
    threads: context.options.threads,
    cpus: context.pinning?.model,
    texts,
    scenario: 'idle',
  };
  const [model] = await runInChild({
    ...baseline,
    id: `idle-model:${variant}`,
    label: 'model alone, batch of one (the idle texts)',
  });
  // The same with the worker's session options: how much of the gap is ONNX Runtime's threads waking up.
  const [modelNoSpin] = await runInChild({
    ...baseline,
    spinning: false,
    id: `idle-model-nospin:${variant}`,
    label: "model alone, batch of one, the worker's session options (no spinning)",
  });
  return withStack(context, variant, 'idle', {}, async (stack) => {
    await warmUp(stack, context.options.batchSize);
    const served = await measureServed(
      stack,
      {
        id: `idle-http:${variant}`,
        scenario: 'idle',
        variant,
        label: 'full path, idle single requests one at a time',
      },
      texts,
      1,
      httpSingle(stack.gatewayUrl),
    );
    const overhead = (served.measurement.latencyMs?.p50 ?? NaN) - (model.latencyMs?.p50 ?? NaN);
    return [
      model,
      modelNoSpin,
      {
        ...served.measurement,
        note: `p50 ${overhead >= 0 ? '+' : ''}${overhead.toFixed(1)} ms over the batch of one; ${jobTimingsNote(served)}`,
        extra: { ...served.measurement.extra, p50OverBatchOfOneMs: overhead },
      },
    ];
  });
}

/**
 * What a quiet system answers: single requests one at a time with a pause before each (`--sparse-gap-ms`), so
 * every process and core is idle when a request comes, and the model's own batch of one with the same pause and
 * the worker's session options. `idle` sends its requests back to back, which keeps the cores awake; the report
 * compares the two.
 */
export async function sparse(context: ScenarioContext, variant: Variant): Promise<Measurement[]> {
  const { sparseRequests, sparseGapMs } = context.options;
  const texts = context.tweets.slice(0, sparseRequests);
  const [model] = await runInChild({
    kind: 'batch-of-one',
    modelDir: context.options.modelDir,
    variant,
    threads: context.options.threads,
    cpus: context.pinning?.model,
    texts,
    scenario: 'sparse',
    spinning: false,
    gapMs: sparseGapMs,
    id: `sparse-model:${variant}`,
    label: `model alone, batch of one, ${sparseGapMs} ms apart, the worker's session options`,
  });
  return withStack(context, variant, 'sparse', {}, async (stack) => {
    await warmUp(stack, context.options.batchSize);
    const served = await measureServed(
      stack,
      {
        id: `sparse-http:${variant}`,
        scenario: 'sparse',
        variant,
        label: `full path, single requests ${sparseGapMs} ms apart`,
      },
      texts,
      1,
      httpSingle(stack.gatewayUrl),
      { gapMs: sparseGapMs },
    );
    return [model, { ...served.measurement, note: jobTimingsNote(served) }];
  });
}

/** Jobs the worker holds at once in the overload scenario (its default, set explicitly for the bound below). */
export const OVERLOAD_WORKER_CONCURRENCY = 64;

/**
 * More clients than the system can serve, against a gateway with a small MAX_QUEUE_DEPTH. Clients
 * wait Retry-After (1 s) after a 429 and go on with the next text, until the time is up. Answered
 * requests should see a bounded latency, refused ones a fast 429. At most WORKER_CONCURRENCY jobs are
 * active and MAX_QUEUE_DEPTH waiting, so an answered request waits behind at most that many: its
 * mean latency is about (WORKER_CONCURRENCY + MAX_QUEUE_DEPTH) / throughput (Little's law) and its p99
 * should stay within twice that (`boundMs`; the batcher's length sorting and the gateway's cached
 * depth reading widen the tail). Without backpressure every client would be queued and the mean alone
 * would be clients / throughput (`unboundedMs`), so use clients well above concurrency + depth.
 */
export async function overload(context: ScenarioContext, variant: Variant): Promise<Measurement[]> {
  const { overloadClients, overloadDepth, overloadSeconds, batchSize } = context.options;
  return withStack(
    context,
    variant,
    'overload',
    {
      gatewayEnv: { MAX_QUEUE_DEPTH: String(overloadDepth), RETRY_AFTER_SECONDS: '1' },
      workerEnv: { WORKER_CONCURRENCY: String(OVERLOAD_WORKER_CONCURRENCY) },
    },
    async (stack) => {
      await warmUp(stack, batchSize);
      const served = await measureServed(
        stack,
        {
          id: `overload:${variant}`,
          scenario: 'overload',
          variant,
          label: `overload: ${overloadClients} clients of single requests, MAX_QUEUE_DEPTH ${overloadDepth}, ${overloadSeconds} s`,
        },
        throughputTexts(context),
        overloadClients,
        httpSingle(stack.gatewayUrl),
        {
          until: performance.now() + overloadSeconds * 1000,
          pauseAfterMs: (status) => (status === 429 ? 1000 : 0),
          tolerateRefusals: true,
        },
      );
      const refused = served.outcomes.filter((outcome) => outcome.status === 429);
      const refusedLatency = summarize(refused.map((outcome) => outcome.latencyMs));
      const answered = served.measurement.latencyMs ?? summarize([]);
      const throughput = served.measurement.textsPerSecond ?? NaN;
      const boundMs = (2 * (OVERLOAD_WORKER_CONCURRENCY + overloadDepth) * 1000) / throughput;
      const unboundedMs = (overloadClients * 1000) / throughput;
      return [
        {
          ...served.measurement,
          note:
            `${refused.length} × 429 (p99 ${refused.length ? refusedLatency.p99.toFixed(0) : '–'} ms); ` +
            `answered p99 ${answered.p99.toFixed(0)} ms, max ${answered.max.toFixed(0)} ms ` +
            `(bound ${boundMs.toFixed(0)} ms; all ${overloadClients} clients queued would mean ~${unboundedMs.toFixed(0)} ms)`,
          extra: {
            ...served.measurement.extra,
            refused: refused.length,
            refusedP50Ms: refusedLatency.p50,
            refusedP99Ms: refusedLatency.p99,
            maxQueueDepth: overloadDepth,
            workerConcurrency: OVERLOAD_WORKER_CONCURRENCY,
            boundMs,
            unboundedMs,
          },
        },
      ];
    },
  );
}

/**
 * Duplicate texts (retweets, copy-paste): the same workload with the result cache off
 * (RESULT_CACHE_TTL_SECONDS=0) and at its default, each on a fresh prefix so the cache starts empty.
 */
export async function cache(context: ScenarioContext, variant: Variant): Promise<Measurement[]> {
  const { texts: total, duplicateShare, seed, batchSize, batchClients } = context.options;
  const workload = duplicateWorkload(context.tweets, total, duplicateShare, seed);
  const batches = chunk(workload.texts, batchSize);
  const rows: Measurement[] = [];
  for (const ttl of [0, DEFAULT_CACHE_TTL_SECONDS]) {
    const on = ttl > 0;
    const row = await withStack(
      context,
      variant,
      on ? 'cache-on' : 'cache-off',
      { cacheTtlSeconds: ttl },
      async (stack) => {
        await warmUp(stack, batchSize);
        const served = await measureServed(
          stack,
          {
            id: `cache-${on ? 'on' : 'off'}:${variant}`,
            scenario: 'cache',
            variant,
            label: `${Math.round(duplicateShare * 100)} % duplicates, batch requests of ${batchSize} x ${batchClients}, cache ${on ? `on (TTL ${ttl} s)` : 'off (TTL 0)'}`,
          },
          batches,
          batchClients,
          httpBatch(stack.gatewayUrl),
          // With the cache on, cached texts never reach the batcher, so padding cannot be derived from tokens.
          { padding: !on },
        );
        const { cacheHits, cacheMisses, cacheErrors, deduplicated } = served.counters;
        const lookups = cacheHits + cacheMisses + cacheErrors;
        const hitRatio = lookups > 0 ? cacheHits / lookups : 0;
        const texts = served.measurement.texts ?? 0;
        return {
          ...served.measurement,
          note: on
            ? `hit ratio ${formatPercent(hitRatio)} (${cacheHits}/${lookups}), ${deduplicated} deduplicated in flight; ${workload.repeats} of ${total} texts are repeats`
            : `${workload.repeats} of ${total} texts are repeats; all computed`,
          extra: {
            ...served.measurement.extra,
            cacheTtlSeconds: ttl,
            cacheHits,
            cacheMisses,
            cacheErrors,
            cacheHitRatio: hitRatio,
            deduplicated,
            servedWithoutInference: texts > 0 ? (cacheHits + deduplicated) / texts : 0,
            repeats: workload.repeats,
          },
        } satisfies Measurement;
      },
    );
    rows.push(row);
  }
  return rows;
}
