/** A failure the user can act on: its message says what was tried and what to do next. */
export class ModelPullError extends Error {
  override name = 'ModelPullError';
}

/**
 * The pull was called off by its caller (its AbortSignal): not retried, and not a ModelPullError, so a caller
 * that called it off can tell it from a failure. What was downloaded stays in the staging folder; the next pull
 * of the same commit resumes from there.
 */
export class PullCancelledError extends Error {
  override name = 'PullCancelledError';
}

/** Throws PullCancelledError once `signal` has called the pull off; `doing` says where it was ("while …"). */
export function throwIfCancelled(signal: AbortSignal | undefined, doing = ''): void {
  if (!signal?.aborted) return;
  const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason);
  throw new PullCancelledError(`the pull was called off${doing && ` ${doing}`}: ${reason}`);
}

/**
 * A failure another attempt may fix (5xx, a cut connection, a stall). Its message is the short reason
 * logged before retrying; `exhausted` gives the full message once the attempts run out.
 */
export class TransientError extends Error {
  override name = 'TransientError';

  constructor(
    reason: string,
    private readonly describeGivingUp: (attempts: number) => string,
  ) {
    super(reason);
  }

  exhausted(attempts: number): ModelPullError {
    return new ModelPullError(this.describeGivingUp(attempts));
  }
}

export function unreachableMessage(origin: string, detail: string): string {
  return (
    `could not reach ${origin} (${detail}): offline? set HF_ENDPOINT to a mirror, ` +
    'or try the system with a synthetic model: npm run start:demo'
  );
}

export function attemptsText(attempts: number): string {
  return attempts === 1 ? '1 attempt' : `${attempts} attempts`;
}
