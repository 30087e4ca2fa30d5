import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { trace } from '@opentelemetry/api';
import type { EnvReader } from '@reputation-monitor/config';
import { REQUEST_ID_PATTERN } from '@reputation-monitor/contracts';
import type { Params } from 'nestjs-pino';
import pino, { type DestinationStream, type LoggerOptions } from 'pino';
import { pinoHttp, type HttpLogger, type Options as PinoHttpOptions } from 'pino-http';

export interface LogConfig {
  /** `json`: one JSON object per line (production); `pretty`: readable lines (development). */
  format: 'json' | 'pretty';
  level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
}

/** The header a request id comes in and goes out with. */
export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * LOG_FORMAT and LOG_LEVEL; also declares OTEL_EXPORTER_OTLP_ENDPOINT (read by the OpenTelemetry SDK itself,
 * see startTracing) so `--env-schema` and the deployment checks know every app takes it.
 */
export function readLogConfig(read: EnvReader): LogConfig {
  read.optionalString('OTEL_EXPORTER_OTLP_ENDPOINT');
  return {
    format: read.oneOf('LOG_FORMAT', ['json', 'pretty'] as const, 'json'),
    level: read.oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const, 'info'),
  };
}

/** A caller's `x-request-id` when it is a sane token (1-128 of letters, digits, `._:-`), else a new UUID. */
export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === 'string' && REQUEST_ID_PATTERN.test(header) ? header : randomUUID();
}

/**
 * pino settings shared by every app: `app` on every line, the active trace and span ids (so a log line
 * leads to its trace), and the credential headers redacted wherever they would appear.
 */
export function pinoOptions(app: string, config: LogConfig, toStderr = false): LoggerOptions {
  return {
    level: config.level,
    base: { app },
    messageKey: 'msg',
    redact: {
      paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie'],
      censor: '[redacted]',
    },
    mixin() {
      const span = trace.getActiveSpan()?.spanContext();
      return span ? { trace_id: span.traceId, span_id: span.spanId } : {};
    },
    ...(config.format === 'pretty' && {
      transport: {
        target: 'pino-pretty',
        options: { singleLine: true, translateTime: 'SYS:HH:MM:ss.l', destination: toStderr ? 2 : 1 },
      },
    }),
  };
}

/**
 * The request logger of an HTTP app: one line per request with its id (taken from `x-request-id` or made,
 * and returned in that header), method, path, status and time; never bodies, queries or credentials. Health
 * and metrics requests are not logged (probes and scrapes would drown the rest). Mount it first, before any
 * other middleware, so requests refused early (bad bodies, the queue board's auth) carry an id too.
 */
export function httpLogger(app: string, config: LogConfig): { middleware: HttpLogger; params: Params } {
  const options: PinoHttpOptions = {
    ...pinoOptions(app, config),
    genReqId: (request: IncomingMessage, response: ServerResponse) => {
      const id = requestIdFrom(request.headers[REQUEST_ID_HEADER]);
      response.setHeader(REQUEST_ID_HEADER, id);
      // The request's server span (when traced) names the id, so a trace is found from a client's report.
      trace.getActiveSpan()?.setAttribute('request.id', id);
      return id;
    },
    // Every line logged while serving a request carries `requestId` (the request logger's child binding).
    quietReqLogger: true,
    customAttributeKeys: { reqId: 'requestId' },
    autoLogging: { ignore: (request) => /^\/(health|metrics)\b/.test(request.url ?? '') },
    serializers: {
      req: (request: { method: string; url: string }) => ({
        method: request.method,
        path: pathOf(request.url),
      }),
      res: (response: { statusCode: number }) => ({ status: response.statusCode }),
    },
    customSuccessMessage: (request, response) =>
      `${request.method} ${pathOf(originalUrl(request))} ${response.statusCode}`,
    customErrorMessage: (request, response) =>
      `${request.method} ${pathOf(originalUrl(request))} ${response.statusCode}`,
  };
  // nestjs-pino binds each request's logger (from this middleware) to the app's Logger calls.
  return { middleware: pinoHttp(options), params: { pinoHttp: options, useExisting: true } };
}

/** nestjs-pino for an app without an HTTP API (the worker, a one-shot run): the same lines, no request log. */
export function loggerParams(app: string, config: LogConfig, toStderr = false): Params {
  const options = pinoOptions(app, config, toStderr);
  const stream: DestinationStream | undefined =
    toStderr && config.format === 'json' ? pino.destination(2) : undefined;
  return { pinoHttp: stream ? [options, stream] : options };
}

/** Express rewrites `url` inside mounted routers (the queue board); `originalUrl` is what the client asked for. */
function originalUrl(request: IncomingMessage): string | undefined {
  return (request as IncomingMessage & { originalUrl?: string }).originalUrl ?? request.url;
}

function pathOf(url: string | undefined): string {
  return (url ?? '').split('?')[0].slice(0, 200);
}
