import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { ErrorCode, ProblemDetails } from '@reputation-monitor/contracts';
import {
  IdempotencyConflictError,
  InvalidRequestError,
  JobFailedError,
  ProducerError,
  QueueFullError,
} from '@reputation-monitor/producer-client';
import { PROBLEM_CONTENT_TYPE, ProblemException, problem } from '@reputation-monitor/http-edge';

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: ErrorCode.ValidationFailed,
  401: ErrorCode.Unauthorized,
  404: ErrorCode.NotFound,
  413: ErrorCode.PayloadTooLarge,
  415: ErrorCode.UnsupportedMediaType,
};

/** Every error leaves the gateway as RFC 9457 problem+json; only genuine faults become 5xx. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const { details, headers } = this.toProblem(exception);
    sendProblem(response, details, headers);
  }

  private toProblem(exception: unknown): { details: ProblemDetails; headers?: Record<string, string> } {
    if (exception instanceof ProblemException)
      return { details: exception.details, headers: exception.headers };
    if (exception instanceof InvalidRequestError) {
      return { details: problem(422, exception.code, exception.message, exception.errors) };
    }
    if (exception instanceof QueueFullError) {
      return {
        details: problem(429, exception.code, `the queue is full (${exception.depth} waiting); retry later`),
        headers: { 'retry-after': String(exception.retryAfterSeconds) },
      };
    }
    if (exception instanceof IdempotencyConflictError) {
      return { details: problem(409, exception.code, `${exception.message}; use a new id for new texts`) };
    }
    if (exception instanceof JobFailedError) {
      return { details: problem(500, exception.code, exception.message) };
    }
    if (exception instanceof ProducerError)
      return { details: problem(500, exception.code, exception.message) };
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
    if (isRedisUnavailable(exception)) {
      this.logger.warn(`redis unavailable: ${(exception as Error).message}`);
      return {
        details: problem(503, ErrorCode.ServiceUnavailable, 'the queue is unreachable; retry later'),
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
  response
    .status(details.status)
    .set({ ...headers, 'content-type': PROBLEM_CONTENT_TYPE })
    .send(JSON.stringify(details));
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
