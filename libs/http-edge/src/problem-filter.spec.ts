import type { ArgumentsHost } from '@nestjs/common';
import type { Response } from 'express';
import { ProblemFilterBase } from './problem-filter';

class Filter extends ProblemFilterBase {
  protected readonly unavailableDetail = 'redis is away';
}

/** Runs the filter on `error` and returns what it sent. */
function answer(error: unknown) {
  const sent: { status?: number; headers: Record<string, string>; body?: string } = { headers: {} };
  const response = {
    locals: {},
    req: { id: 'req-1' },
    status(code: number) {
      sent.status = code;
      return this;
    },
    set(headers: Record<string, string>) {
      Object.assign(sent.headers, headers);
      return this;
    },
    send(body: string) {
      sent.body = body;
      return this;
    },
  } as unknown as Response;
  const host = { switchToHttp: () => ({ getResponse: () => response }) } as unknown as ArgumentsHost;
  new Filter().catch(error, host);
  return { ...sent, problem: JSON.parse(sent.body ?? '{}') };
}

describe('ProblemFilterBase', () => {
  it('answers a RangeError (input past the engine limits) with 422, not 500', () => {
    const sent = answer(new RangeError('Maximum call stack size exceeded'));
    expect(sent.status).toBe(422);
    expect(sent.problem).toMatchObject({ status: 422, code: 'validation_failed', requestId: 'req-1' });
  });

  it('answers Redis at maxmemory with 503 store_full and Retry-After', () => {
    const sent = answer(new Error("OOM command not allowed when used memory > 'maxmemory'."));
    expect(sent.status).toBe(503);
    expect(sent.headers['retry-after']).toBe('30');
    expect(sent.problem.code).toBe('store_full');
  });

  it('keeps 500 for what nobody expects', () => {
    expect(answer(new TypeError('x is undefined')).status).toBe(500);
  });
});
