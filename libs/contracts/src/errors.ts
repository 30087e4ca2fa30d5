/** Machine-readable error codes shared by the HTTP API (problem+json `code`) and job failures. */
export enum ErrorCode {
  ValidationFailed = 'validation_failed',
  MalformedJson = 'malformed_json',
  /** Not valid HTTP/1.1: a bad request line or header, or an Expect the server does not support. */
  MalformedRequest = 'malformed_request',
  PayloadTooLarge = 'payload_too_large',
  UnsupportedMediaType = 'unsupported_media_type',
  Unauthorized = 'unauthorized',
  /** A valid key without the right to this route (a client key on an admin route). */
  Forbidden = 'forbidden',
  NotFound = 'not_found',
  IdempotencyConflict = 'idempotency_conflict',
  /** The drift monitor: another replica is evaluating; retry shortly. */
  RunInProgress = 'run_in_progress',
  /** The model assignment: the version is unknown, its gate did not pass, or there is nothing to roll back to. */
  ModelVersionNotFound = 'model_version_not_found',
  GateNotPassed = 'gate_not_passed',
  AssignmentConflict = 'assignment_conflict',
  /**
   * A model assignment change is written on the Redis primary, but no replica confirmed it (503): read the
   * assignment before repeating the change, which is not idempotent.
   */
  ChangeNotReplicated = 'change_not_replicated',
  QueueFull = 'queue_full',
  /** This key sent more requests than its rate limit allows; see Retry-After. */
  RateLimited = 'rate_limited',
  /** JSON nested deeper, or an array longer, than any request needs: refused before it is parsed. */
  JsonTooComplex = 'json_too_complex',
  /** Redis refuses writes (maxmemory reached): nothing was stored; retry later. */
  StoreFull = 'store_full',
  ServiceUnavailable = 'service_unavailable',
  InvalidJobPayload = 'invalid_job_payload',
  InferenceFailed = 'inference_failed',
  Internal = 'internal_error',
}

/** One problem with one field of a request, as listed in a problem+json `errors` array. */
export interface FieldError {
  /** JSON path of the field, e.g. `items[3].text`. */
  field: string;
  message: string;
}

/** RFC 9457 problem details, as every error response of the gateway carries. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  code: ErrorCode;
  errors?: FieldError[];
  /** The request's id (also in the x-request-id header), to find its log lines and trace. */
  requestId?: string;
}
