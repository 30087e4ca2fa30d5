/**
 * Tracing's cost: the same idle single requests and the same 8-client load on a stack without an OTLP endpoint
 * (no SDK started: the apps' tracing calls hit the API's no-op tracer) and on one exporting every span over
 * OTLP/HTTP to a collector on loopback that accepts and drops them.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Measurement, Variant } from '../results';
import { ScenarioContext, throughputTexts } from './context';
import { withStack } from './full-path';
import { httpSingle, measureServed } from './served';

const LOAD_CLIENTS = 8;

export async function tracing(context: ScenarioContext, variant: Variant): Promise<Measurement[]> {
  const texts = context.tweets.slice(0, context.options.idleRequests);
  const loadTexts = throughputTexts(context).slice(0, 600);
  // The collector: reads each export and answers 200, keeping nothing.
  const sink = createServer((request, response) => {
    request.resume();
    request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
  const rows: Measurement[] = [];
  try {
    for (const [mode, env] of [
      ['off', {}],
      ['on', { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint }],
    ] as const) {
      const measured = await withStack(
        context,
        variant,
        `tracing-${mode}`,
        { gatewayEnv: env, workerEnv: env },
        async (stack) => {
          const single = httpSingle(stack.gatewayUrl);
          for (const text of texts.slice(0, 3)) await single(text);
          const idle = await measureServed(
            stack,
            {
              id: `tracing-idle-${mode}:${variant}`,
              scenario: 'tracing',
              variant,
              label: `idle single requests, tracing ${mode}`,
            },
            texts,
            1,
            single,
          );
          const load = await measureServed(
            stack,
            {
              id: `tracing-load-${mode}:${variant}`,
              scenario: 'tracing',
              variant,
              label: `single requests from ${LOAD_CLIENTS} clients, tracing ${mode}`,
            },
            loadTexts,
            LOAD_CLIENTS,
            single,
          );
          return [idle.measurement, load.measurement];
        },
      );
      rows.push(...measured);
    }
  } finally {
    await new Promise((resolve) => sink.close(resolve));
  }
  const [idleOff, loadOff, idleOn, loadOn] = rows;
  const p50 = (on: Measurement, off: Measurement) => (on.latencyMs?.p50 ?? NaN) / (off.latencyMs?.p50 ?? NaN);
  const rate = (on: Measurement, off: Measurement) =>
    (on.textsPerSecond ?? NaN) / (off.textsPerSecond ?? NaN);
  idleOn.note = `p50 ${p50(idleOn, idleOff).toFixed(2)}x tracing off`;
  loadOn.note = `${rate(loadOn, loadOff).toFixed(2)}x the texts/s and p50 ${p50(loadOn, loadOff).toFixed(2)}x of tracing off`;
  return rows;
}
