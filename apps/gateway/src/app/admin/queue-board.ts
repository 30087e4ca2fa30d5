import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { NextFunction, Request, Response } from 'express';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { SentimentProducer } from '@reputation-monitor/producer-client';
import { ApiKeys } from '@reputation-monitor/http-edge';

export const QUEUE_BOARD_PATH = '/admin/queues';

/**
 * Bull Board at /admin/queues, behind the API keys like /v1. Browsers get a Basic auth prompt
 * (any user name, the key as password). Mounted before body parsing: the board reads its own bodies.
 */
export function mountQueueBoard(
  app: NestExpressApplication,
  producer: SentimentProducer,
  keys: ApiKeys,
): void {
  const serverAdapter = new ExpressAdapter().setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({ queues: [new BullMQAdapter(producer.queue)], serverAdapter });
  const requireKey = (request: Request, response: Response, next: NextFunction) => {
    if (keys.accepts(request)) return next();
    response
      .status(401)
      .set('www-authenticate', 'Basic realm="reputation-monitor admin"')
      .send('API key required');
  };
  app.use(QUEUE_BOARD_PATH, requireKey, serverAdapter.getRouter());
}
