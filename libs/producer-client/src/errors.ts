import { ErrorCode, FieldError } from '@reputation-monitor/contracts';

/** Base class: every producer error carries the contract's error code, so callers can map it without string matching. */
export class ProducerError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class InvalidRequestError extends ProducerError {
  constructor(readonly errors: FieldError[]) {
    super(ErrorCode.ValidationFailed, errors.map((error) => `${error.field} ${error.message}`).join('; '));
  }
}

/** The queue holds more waiting work than the configured limit; try again after `retryAfterSeconds`. */
export class QueueFullError extends ProducerError {
  constructor(
    readonly depth: number,
    readonly limit: number,
    readonly retryAfterSeconds: number,
  ) {
    super(ErrorCode.QueueFull, `queue has ${depth} waiting jobs, the limit is ${limit}`);
  }
}

/**
 * The ids were used for other texts: the job they name exists with other content (`jobId`), or client ids
 * were sent with other texts within the retention, in any job (`errors` names each as `items[i].id`). An id
 * names one text, so that a retry never runs other work and feedback on an id labels the text it named.
 */
export class IdempotencyConflictError extends ProducerError {
  readonly jobId: string | undefined;
  readonly errors: FieldError[];

  constructor(conflict: { jobId: string } | { errors: FieldError[] }) {
    super(
      ErrorCode.IdempotencyConflict,
      'jobId' in conflict
        ? `job ${conflict.jobId} already exists with different content`
        : conflict.errors.map((error) => `${error.field} ${error.message}`).join('; '),
    );
    this.jobId = 'jobId' in conflict ? conflict.jobId : undefined;
    this.errors = 'errors' in conflict ? conflict.errors : [];
  }
}

/**
 * The job is on the Redis primary, but fewer replicas than asked acknowledged it within the WAIT timeout: a
 * failover now could lose it, so it is not confirmed. It may still run; an unchanged retry (same ids) is
 * idempotent. Retry after `retryAfterSeconds`.
 */
export class NotReplicatedError extends ProducerError {
  constructor(
    readonly jobId: string,
    readonly wanted: number,
    readonly acked: number,
    readonly timeoutMs: number,
    readonly retryAfterSeconds: number,
  ) {
    super(
      ErrorCode.ServiceUnavailable,
      `job ${jobId} was not confirmed by ${wanted} Redis replica(s) within ${timeoutMs} ms (${acked} acknowledged)`,
    );
  }
}

export class ResultTimeoutError extends ProducerError {
  constructor(
    readonly jobId: string,
    readonly timeoutMs: number,
  ) {
    super(ErrorCode.ServiceUnavailable, `job ${jobId} did not finish within ${timeoutMs} ms`);
  }
}

export class JobFailedError extends ProducerError {
  constructor(
    readonly jobId: string,
    readonly reason: string,
  ) {
    super(ErrorCode.InferenceFailed, `job ${jobId} failed: ${reason}`);
  }
}
