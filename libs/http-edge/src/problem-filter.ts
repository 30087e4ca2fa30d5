import { ArgumentsHost, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { ErrorCode, ProblemDetails } from '@reputation-monitor/contracts';
import { PROBLEM_CONTENT_TYPE, ProblemException, problem } from './problem';

/** A problem to send, with headers such as Retry-After. */
export interface ProblemAnswer {
  details: ProblemDetails;
  headers?: Record<string, string>;
}

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: ErrorCode.ValidationFailed,
  401: ErrorCode.Unauthorized,
  404: ErrorCode.NotFound,
  413: ErrorCode.PayloadTooLarge,
  415: ErrorCode.UnsupportedMediaType,
  429: ErrorCode.RateLimited,
};

/**
 * Every error leaves as RFC 9457 problem+json; only genuine faults become 5xx. An app subclasses it (with
 * `@Catch()`), says what an unreachable Redis means to its clients, and maps its own error types.
 */
export abstract class ProblemFilterBase implements ExceptionFilter {
  protected readonly logger = new Logger('ProblemFilter');

  /** The 503 detail when Redis does not answer. */
  protected abstract readonly unavailableDetail: string;

  /** The 503 detail when Redis refuses writes because it reached maxmemory. */
  protected readonly storeFullDetail =
    'the store is full (Redis reached maxmemory): nothing was stored; retry later';

  /** The app's own errors, checked after ProblemException and before Nest's HttpException. */
  protected appProblem(_exception: unknown): ProblemAnswer | undefined {
    return undefined;
  }

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const { details, headers } = this.toProblem(exception);
    sendProblem(response, details, headers);
  }

  private toProblem(exception: unknown): ProblemAnswer {
    if (exception instanceof ProblemException)
      return { details: exception.details, headers: exception.headers };
    const own = this.appProblem(exception);
    if (own) return own;
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const body = exception.getResponse();
      const detail =
        typeof body === 'string'
          ? body
          : ((body as { message?: unknown }).message?.toString() ?? exception.message);
      return {
        details: problem(
          status,
          CODE_BY_STATUS[status] ?? (status >= 500 ? ErrorCode.Internal : ErrorCode.ValidationFailed),
          detail,
        ),
      };
    }
    if (exception instanceof RangeError) {
      // Input that would recurse or allocate past the engine's limits: the request's fault, not ours.
      this.logger.warn(`request refused by a RangeError: ${exception.message}`);
      return {
        details: problem(
          422,
          ErrorCode.ValidationFailed,
          'request too large or too deeply nested to process',
        ),
      };
    }
    if (isRedisOutOfMemory(exception)) {
      this.logger.warn(`redis refuses writes: ${(exception as Error).message}`);
      return {
        details: problem(503, ErrorCode.StoreFull, this.storeFullDetail),
        headers: { 'retry-after': '30' },
      };
    }
    if (isRedisUnavailable(exception)) {
      this.logger.warn(`redis unavailable: ${(exception as Error).message}`);
      return {
        details: problem(503, ErrorCode.ServiceUnavailable, this.unavailableDetail),
        headers: { 'retry-after': '5' },
      };
    }
    this.logger.error((exception as Error)?.stack ?? String(exception));
    return { details: problem(500, ErrorCode.Internal, 'unexpected error') };
  }
}

export function sendProblem(
  response: Response,
  details: ProblemDetails,
  headers: Record<string, string> = {},
): void {
  // Kept for request metrics, which see the response after it is sent (e.g. rate_limited vs queue_full).
  response.locals.problemCode = details.code;
  // The request id the logger gave this request (nestjs-pino sets request.id), so a client can quote it.
  const requestId = (response.req as { id?: unknown } | undefined)?.id;
  if (typeof requestId === 'string') details = { ...details, requestId };
  response
    .status(details.status)
    .set({ ...headers, 'content-type': PROBLEM_CONTENT_TYPE })
    .send(JSON.stringify(details));
}

/** Redis at maxmemory with `noeviction` refuses every write with "OOM command not allowed". */
function isRedisOutOfMemory(error: unknown): boolean {
  return error instanceof Error && /\bOOM command not allowed\b/.test(error.message);
}

function isRedisUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error.name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|enableOfflineQueue|ECONNREFUSED|ECONNRESET|Stream isn't writeable/.test(
      error.message,
    )
  );
}
