import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { NextFunction, Request, Response } from 'express';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { ErrorCode } from '@reputation-monitor/contracts';
import { SentimentProducer } from '@reputation-monitor/producer-client';
import { AdminApiKeys, problem, sendProblem } from '@reputation-monitor/http-edge';

export const QUEUE_BOARD_PATH = '/admin/queues';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Bull Board at /admin/queues, for admin keys only (client keys get 403: the board shows every job's text
 * and can retry, empty or obliterate the queue). Browsers get a Basic auth prompt (any user name, the admin
 * key as password) and cache it, so every change is also checked for a cross-site origin: a form or script
 * on another site that makes the browser send those credentials is refused (403) before the board acts.
 * Mounted before body parsing: the board reads its own bodies.
 */
export function mountQueueBoard(
  app: NestExpressApplication,
  producer: SentimentProducer,
  adminKeys: AdminApiKeys,
): void {
  const serverAdapter = new ExpressAdapter().setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({ queues: [new BullMQAdapter(producer.queue)], serverAdapter });
  const requireAdmin = (request: Request, response: Response, next: NextFunction) => {
    if (!adminKeys.required) {
      sendProblem(
        response,
        problem(403, ErrorCode.Forbidden, 'the queue board is off: no ADMIN_API_KEYS are configured'),
      );
      return;
    }
    if (!adminKeys.matches(request)) {
      response.set('www-authenticate', 'Basic realm="reputation-monitor admin"');
      sendProblem(response, problem(401, ErrorCode.Unauthorized, 'the queue board needs an admin key'));
      return;
    }
    const crossSite = SAFE_METHODS.has(request.method) ? undefined : crossSiteProblem(request);
    if (crossSite) {
      sendProblem(response, problem(403, ErrorCode.Forbidden, crossSite));
      return;
    }
    next();
  };
  app.use(QUEUE_BOARD_PATH, requireAdmin, serverAdapter.getRouter());
}

/**
 * OWASP's "verify origin with standard headers": browsers send Sec-Fetch-Site and Origin on every
 * cross-origin POST/PUT/DELETE, and a page cannot forge them. Tools such as curl send neither and pass.
 */
export function crossSiteProblem(request: Request): string | undefined {
  const fetchSite = request.headers['sec-fetch-site'];
  if (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none')
    return `cross-site request refused (Sec-Fetch-Site: ${String(fetchSite).slice(0, 40)})`;
  const origin = request.headers.origin;
  if (origin === undefined) return undefined;
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    return 'cross-site request refused (unreadable Origin)';
  }
  return originHost === request.headers.host
    ? undefined
    : `cross-site request refused (Origin ${origin.slice(0, 100)} is not this host)`;
}
