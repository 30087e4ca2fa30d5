import { NodeSDK } from '@opentelemetry/sdk-node';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import type { Telemetry } from 'bullmq';
import { BullMQOtel } from 'bullmq-otel';

/** True when traces are exported: the standard OTLP endpoint variables, nothing of our own. */
export function tracingEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

let sdk: NodeSDK | undefined;

/**
 * Starts OpenTelemetry for an app when OTEL_EXPORTER_OTLP_ENDPOINT (or _TRACES_ENDPOINT) is set: the
 * NodeSDK with its OTLP exporter (protocol, headers and sampling from the standard OTEL_* variables) and
 * the HTTP instrumentation (health and metrics requests are not traced). Without an endpoint nothing is
 * started and the API's no-op tracer costs nothing. Call it before the app imports `http`.
 */
export function startTracing(serviceName: string): void {
  if (sdk || !tracingEnabled()) return;
  sdk = new NodeSDK({
    serviceName: process.env.OTEL_SERVICE_NAME ?? serviceName,
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => /^\/(health|metrics)\b/.test(request.url ?? ''),
        // The apps' own outgoing HTTP (Hub, GitHub) is traced; the exporter's own requests are not.
        ignoreOutgoingRequestHook: (options) => (options.path ?? '').startsWith('/v1/traces'),
      }),
    ],
  });
  sdk.start();
}

/** Flushes and stops the exporter (at shutdown, so the last spans are sent). */
export async function stopTracing(): Promise<void> {
  await sdk?.shutdown().catch(() => undefined);
  sdk = undefined;
}

/**
 * BullMQ's telemetry (bullmq-otel) for queues and workers while tracing is on: a span for each add and each
 * processing, the trace context carried in the job, so a job retried by another worker stays in its trace.
 */
export function queueTelemetry(): Telemetry | undefined {
  return tracingEnabled() ? new BullMQOtel('reputation-monitor') : undefined;
}
