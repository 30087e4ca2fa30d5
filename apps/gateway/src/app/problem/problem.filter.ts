import { Catch } from '@nestjs/common';
import {
  IdempotencyConflictError,
  InvalidRequestError,
  JobFailedError,
  NotReplicatedError,
  ProducerError,
  QueueFullError,
} from '@reputation-monitor/producer-client';
import { ProblemAnswer, ProblemFilterBase, problem } from '@reputation-monitor/http-edge';

/** The 429 of a full queue, with its Retry-After (also sent before validation: refuse-when-queue-full.ts). */
export function queueFullProblem(error: QueueFullError): ProblemAnswer {
  return {
    details: problem(429, error.code, `the queue is full (${error.depth} waiting); retry later`),
    headers: { 'retry-after': String(error.retryAfterSeconds) },
  };
}

/** Every error leaves the gateway as RFC 9457 problem+json; only genuine faults become 5xx. */
@Catch()
export class ProblemFilter extends ProblemFilterBase {
  protected readonly unavailableDetail = 'the queue is unreachable; retry later';

  /** The producer client's errors, as the clients of the HTTP API see them. */
  protected override appProblem(exception: unknown): ProblemAnswer | undefined {
    if (exception instanceof InvalidRequestError) {
      return { details: problem(422, exception.code, exception.message, exception.errors) };
    }
    if (exception instanceof QueueFullError) return queueFullProblem(exception);
    if (exception instanceof NotReplicatedError) {
      // Stored on the primary, not confirmed on a replica: a failover could still lose it, so it is not
      // accepted. It may run; an unchanged retry (same ids) finds it instead of queueing it twice.
      this.logger.warn(exception.message);
      return {
        details: problem(
          503,
          exception.code,
          `the job was not confirmed by a Redis replica within ${exception.timeoutMs} ms, so it is not accepted ` +
            '(it may still run); retry, with the same ids to avoid running it twice',
        ),
        headers: { 'retry-after': String(exception.retryAfterSeconds) },
      };
    }
    if (exception instanceof IdempotencyConflictError) {
      const detail = `${exception.message}; use a new id for new texts`;
      return { details: problem(409, exception.code, detail, exception.errors) };
    }
    if (exception instanceof JobFailedError || exception instanceof ProducerError) {
      return { details: problem(500, exception.code, exception.message) };
    }
    return undefined;
  }
}
