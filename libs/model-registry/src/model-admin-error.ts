export type ModelAdminErrorKind =
  | 'unknown_version'
  | 'gate_not_passed'
  | 'no_previous'
  | 'no_assignment'
  | 'conflict'
  | 'invalid'
  /** Written on the primary, but not acknowledged by the replicas asked for (Redis WAIT timed out). */
  | 'not_replicated';

/** A refused admin operation; `kind` is what an API maps to its status (invalid: 400, conflict: 409, …). */
export class ModelAdminError extends Error {
  override readonly name = 'ModelAdminError';

  constructor(
    readonly kind: ModelAdminErrorKind,
    message: string,
  ) {
    super(message);
  }
}
