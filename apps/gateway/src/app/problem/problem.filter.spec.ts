import type { ArgumentsHost } from '@nestjs/common';
import type { Response } from 'express';
import { NotReplicatedError, ProducerError } from '@reputation-monitor/producer-client';
import { ErrorCode } from '@reputation-monitor/contracts';
import { ProblemFilter } from './problem.filter';

/** Runs the gateway's filter on `error` and returns what it sent. */
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
  new ProblemFilter().catch(error, host);
  return { ...sent, problem: JSON.parse(sent.body ?? '{}') };
}

describe('ProblemFilter', () => {
  it('refuses a job no replica confirmed in time with 503 and Retry-After: it is not accepted', () => {
    const sent = answer(new NotReplicatedError('t-abc', 1, 0, 1000, 2));
    expect(sent.status).toBe(503);
    expect(sent.headers['retry-after']).toBe('2');
    expect(sent.problem).toMatchObject({ status: 503, code: 'service_unavailable', requestId: 'req-1' });
    expect(sent.problem.detail).toMatch(/not confirmed by a Redis replica within 1000 ms.*retry/);
  });

  it('keeps other producer errors without a mapping of their own a 500', () => {
    const sent = answer(new ProducerError(ErrorCode.Internal, 'odd'));
    expect(sent.status).toBe(500);
  });
});
