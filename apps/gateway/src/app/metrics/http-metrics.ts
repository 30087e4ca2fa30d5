import { trace } from '@opentelemetry/api';
import type { NextFunction, Request, Response } from 'express';
import type { GatewayMetrics } from './gateway-metrics';

/**
 * Times every request, labelled by route template (never the raw path, which holds ids), so the
 * label set stays small. Runs before body parsing, so refused bodies (400/413/415) are counted too.
 */
export function httpMetrics(metrics: GatewayMetrics, knownPaths: ReadonlySet<string>) {
  return (request: Request, response: Response, next: NextFunction) => {
    const started = performance.now();
    // The request's server span (when traced), for the duration's exemplar: 'finish' runs outside its context.
    const span = trace.getActiveSpan();
    // The path as it arrived: middleware mounted under a path (the key check, body parsing under /v1) sees it
    // without that prefix, and a refusal it answers leaves it so.
    const path = request.path;
    response.once('finish', () => {
      const template = (request.route as { path?: string } | undefined)?.path;
      const route = template ?? (knownPaths.has(path) ? path : 'unmatched');
      metrics.request(
        route,
        request.method,
        response.statusCode,
        (performance.now() - started) / 1000,
        response.locals.problemCode as string | undefined,
        span,
      );
    });
    next();
  };
}
