/** The worker path without HTTP: the producer client (libs/producer-client) -> queue -> worker. */
import { SentimentProducer } from '@reputation-monitor/producer-client';
import type { Send } from '../load-driver';
import { withPackingBound } from '../packing-bound';
import type { Measurement, Variant } from '../results';
import { chunk, warmupTexts } from '../workload';
import { ScenarioContext, throughputTexts } from './context';
import { withStack } from './full-path';
import { measureServed, servedNote } from './served';

const RESULT_TIMEOUT_MS = 120_000;

function classifyWith(producer: SentimentProducer): Send<string[]> {
  return async (texts) => {
    const result = await producer.classify(
      texts.map((text) => ({ text })),
      RESULT_TIMEOUT_MS,
    );
    return {
      status: 200,
      texts: result.predictions.length,
      tokens: result.predictions.reduce((sum, prediction) => sum + prediction.tokens, 0),
      queueMs: result.timings.queueMs,
      processingMs: result.timings.processingMs,
    };
  };
}

async function viaProducer(
  context: ScenarioContext,
  variant: Variant,
  mode: 'batch' | 'single',
): Promise<Measurement[]> {
  const { batchSize, batchClients, singleClients, redisUrl } = context.options;
  const scenario = `producer-${mode}`;
  return withStack(context, variant, scenario, { gateway: false }, async (stack) => {
    const producer = new SentimentProducer({ redisUrl, prefix: stack.prefix });
    try {
      await producer.ready();
      const send = classifyWith(producer);
      for (const text of warmupTexts(3)) await send([text]);
      await send(warmupTexts(Math.min(batchSize, 16)));
      const texts = throughputTexts(context);
      const served = await measureServed(
        stack,
        {
          id: `${scenario}:${variant}`,
          scenario,
          variant,
          label:
            mode === 'batch'
              ? `producer client, batches of ${batchSize}, ${batchClients} clients (no HTTP)`
              : `producer client, single texts, ${singleClients} clients (no HTTP)`,
        },
        mode === 'batch' ? chunk(texts, batchSize) : texts.map((text) => [text]),
        mode === 'batch' ? batchClients : singleClients,
        send,
      );
      const row = { ...served.measurement, note: servedNote(served) };
      return [
        mode === 'single'
          ? await withPackingBound(
              row,
              context.options.modelDir,
              texts,
              singleClients,
              context.options.workerEnv,
              context.options.threads,
            )
          : row,
      ];
    } finally {
      await producer.close();
    }
  });
}

export const producerBatch = (context: ScenarioContext, variant: Variant) =>
  viaProducer(context, variant, 'batch');
export const producerSingle = (context: ScenarioContext, variant: Variant) =>
  viaProducer(context, variant, 'single');
