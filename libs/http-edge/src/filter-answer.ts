import type { ArgumentsHost, ExceptionFilter } from '@nestjs/common';

export interface FilterAnswer {
  status?: number;
  headers: Record<string, string>;
  body?: string;
  /** The body parsed as JSON (`{}` when none was sent). */
  problem: Record<string, unknown> & { detail?: string };
}

/**
 * Runs a Nest exception filter on `error` against an Express-like response that records what is sent (status,
 * headers, body), with request id `req-1`: for the specs of the problem filters (this lib's and the apps'), without an
 * HTTP server.
 */
export function filterAnswer(filter: ExceptionFilter, error: unknown): FilterAnswer {
  const sent: Omit<FilterAnswer, 'problem'> = { headers: {} };
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
  };
  const host = { switchToHttp: () => ({ getResponse: () => response }) } as unknown as ArgumentsHost;
  filter.catch(error, host);
  return { ...sent, problem: JSON.parse(sent.body ?? '{}') };
}
