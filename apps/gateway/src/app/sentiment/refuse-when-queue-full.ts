import type { NextFunction, Request, Response } from 'express';
import type { SentimentProducer } from '@reputation-monitor/producer-client';
import { sendProblem } from '@reputation-monitor/http-edge';
import { queueFullProblem } from '../problem/problem.filter';

/**
 * While the queue is full, a sentiment POST is answered 429 right after its body is parsed, before Nest's
 * guards, pipes and validation: under overload most requests are refused, and a refusal that costs the whole
 * request path takes the CPU the workers need and makes clients wait for their 429 (256 clients released
 * together after their Retry-After queue for it). Decided as an enqueue decides (QueueCapacity, on a fresh
 * count); a body naming ids goes the whole way, since a retry of an accepted job gets that job even when the
 * queue is full. Mounted after the key check, so callers without a key still get their 401.
 */
export function refuseWhenQueueFull(producer: SentimentProducer, routes: ReadonlySet<string>) {
  return (request: Request, response: Response, next: NextFunction) => {
    if (request.method !== 'POST' || !routes.has(request.path) || namesIds(request.body)) return next();
    producer
      .queueFull()
      .then(
        (full) => {
          if (!full) return next();
          const { details, headers } = queueFullProblem(full);
          sendProblem(response, details, headers);
        },
        // The count could not be read: the request goes on, and the enqueue answers for Redis.
        () => next(),
      )
      // Writing the 429 failed (the socket is gone): Express's error path, not an unhandled rejection.
      .catch(next);
  };
}

/** Whether a single or batch body names an id (its job id is then derived from them: a retry finds it). */
function namesIds(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  if ('id' in body) return true;
  const items = (body as { items?: unknown }).items;
  return (
    Array.isArray(items) && items.some((item) => typeof item === 'object' && item !== null && 'id' in item)
  );
}
