import type { NestExpressApplication } from '@nestjs/platform-express';
import type { RequestHandler } from 'express';
import { Logger as PinoLogger } from 'nestjs-pino';
import { ConfigError } from '@reputation-monitor/config';
import { AccessConfig, exposureProblem } from './access-config';
import { requireKeyBeforeBody } from './api-key.guard';
import { AdminApiKeys, ApiKeys } from './api-keys';
import { JsonBodyLimits, jsonBody } from './json-body';
import { answerMalformedRequests } from './malformed-requests';
import { HttpServerConfig, applyHttpServerConfig } from './server-config';

/** Refuses to start a server that would serve /v1 without keys by accident (a ConfigError saying why). */
export function assertNotExposed(access: AccessConfig, host: string): void {
  const exposure = exposureProblem(access, host);
  if (exposure) throw new ConfigError([exposure]);
}

/**
 * The front of every HTTP app's chain: logs through pino (the app's module imports nestjs-pino's
 * LoggerModule), the server's connection settings, Node's own refusals answered with problem+json, and the
 * request logger first, so every answer carries a request id.
 */
export function openHttpEdge(
  app: NestExpressApplication,
  requestLogger: RequestHandler,
  server: HttpServerConfig,
): void {
  app.useLogger(app.get(PinoLogger));
  app.disable('x-powered-by');
  applyHttpServerConfig(app.getHttpServer(), server);
  answerMalformedRequests(app.getHttpServer());
  app.use(requestLogger);
}

/**
 * After the app's own early middleware: a /v1 request without a valid key is answered 401 before its body is
 * read, then JSON bodies are parsed within `limits`; only under /v1, where every route that takes a body is
 * (elsewhere a body is never parsed, so nobody without a key can make the app parse one). Needs ApiKeys and
 * AdminApiKeys among the app's providers.
 */
export function parseBodiesAfterKeys(app: NestExpressApplication, limits: JsonBodyLimits): void {
  app.use('/v1', requireKeyBeforeBody(app.get(ApiKeys), app.get(AdminApiKeys)));
  app.use('/v1', jsonBody(limits));
}
