import type { Request, Response } from 'express';
import { QueueFullError, type SentimentProducer } from '@reputation-monitor/producer-client';
import { refuseWhenQueueFull } from './refuse-when-queue-full';

const ROUTES = new Set(['/v1/sentiment']);

/** Runs the middleware once and resolves with what it passed to next (undefined: next() without an error). */
function decide(
  queueFull: () => Promise<QueueFullError | undefined>,
  request: Partial<Request>,
  response: Partial<Response> = {},
): Promise<{ next: boolean; error?: unknown }> {
  const producer = { queueFull } as unknown as SentimentProducer;
  return new Promise((resolve) => {
    const middleware = refuseWhenQueueFull(producer, ROUTES);
    middleware(
      { method: 'POST', path: '/v1/sentiment', body: { text: 'x' }, ...request } as Request,
      { headersSent: false, ...response } as Response,
      (error?: unknown) => resolve({ next: true, error }),
    );
    setTimeout(() => resolve({ next: false }), 50);
  });
}

describe('refuseWhenQueueFull', () => {
  const full = async () => new QueueFullError(10, 10, 2);

  it('lets requests through when there is room, or the count cannot be read', async () => {
    expect(await decide(async () => undefined, {})).toEqual({ next: true, error: undefined });
    expect(await decide(() => Promise.reject(new Error('down')), {})).toEqual({
      next: true,
      error: undefined,
    });
  });

  it('lets a body naming ids through even when full (a retry gets its job), and other routes', async () => {
    expect((await decide(full, { body: { text: 'x', id: 'a' } })).next).toBe(true);
    expect((await decide(full, { body: { items: [{ text: 'x', id: 'a' }] } })).next).toBe(true);
    expect((await decide(full, { path: '/v1/feedback' })).next).toBe(true);
  });

  it('answers 429 itself when full', async () => {
    const sent: unknown[] = [];
    const response = {
      locals: {},
      status(code: number) {
        sent.push(code);
        return this;
      },
      set(headers: Record<string, string>) {
        sent.push(headers);
        return this;
      },
      send: (body: string) => sent.push(JSON.parse(body)),
    } as unknown as Partial<Response>;
    expect((await decide(full, {}, response)).next).toBe(false);
    expect(sent).toEqual([
      429,
      { 'retry-after': '2', 'content-type': 'application/problem+json' },
      expect.objectContaining({ status: 429, code: 'queue_full' }),
    ]);
  });

  it('passes a failure to write the 429 on to Express instead of leaving it unhandled', async () => {
    const broken = {
      locals: {},
      status() {
        throw new Error('the socket is gone');
      },
    } as unknown as Partial<Response>;
    const outcome = await decide(full, {}, broken);
    expect(outcome.next).toBe(true);
    expect((outcome.error as Error).message).toBe('the socket is gone');
  });
});
