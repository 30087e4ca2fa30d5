import { HubApiError, InvalidApiResponseFormatError } from '@huggingface/hub';

/** What a caller of the Hub says about a failure besides the Hub's own answer. */
export interface HubFailureContext {
  /** What was being done, e.g. `reading branch main of acme/examples`. */
  what: string;
  /** The endpoint (HF_ENDPOINT), named when the Hub could not be reached or answered oddly. */
  hubUrl: string;
  /** The token in use: changes what a 401 means, and is cut out of the message. */
  token: string | undefined;
  /** Appended to "check that HF_TOKEN is valid" on a 401 with a token, e.g. ` and can read the repo`. */
  tokenRefused: string;
  /** What a 403 asks to check, e.g. `check that HF_TOKEN has write access to the repo`. */
  forbidden: string;
}

/**
 * One line saying what failed, from a @huggingface/hub error or a failed fetch, and what to check; the token
 * never appears. The dataset store, the model registry and the candidate upload all speak to the Hub this way.
 */
export function describeHubFailure(error: unknown, context: HubFailureContext): string {
  const { what, hubUrl } = context;
  const status = statusOf(error);
  if (status !== undefined) return describeHubAnswer(status, hubMessage(error), context);
  if (error instanceof InvalidApiResponseFormatError)
    return oneLine(
      `${what} failed: ${hubUrl} does not answer like a Hub (${messageOf(error)}); check HF_ENDPOINT`,
      context,
    );
  return oneLine(
    `${what} failed: cannot reach the Hub at ${hubUrl} (${rootCause(error)}); check HF_ENDPOINT and the network`,
    context,
  );
}

/** The same for an answer read without @huggingface/hub (a status and the Hub's message). */
export function describeHubAnswer(status: number, message: string, context: HubFailureContext): string {
  const { what, hubUrl, token } = context;
  const answered = `${status}: ${message}`;
  if (status === 401) {
    return oneLine(
      token
        ? `${what} failed: the Hub refused the token (${answered}); check that HF_TOKEN is valid${context.tokenRefused}`
        : `${what} failed: the Hub needs a token (${answered}); the repo is private or does not exist, set HF_TOKEN`,
      context,
    );
  }
  if (status === 403)
    return oneLine(`${what} failed: not allowed (${answered}); ${context.forbidden}`, context);
  if (status === 404)
    return oneLine(`${what} failed: not found (${answered}); check the repo name and HF_ENDPOINT`, context);
  if (status === 429 || status >= 500) {
    return oneLine(
      `${what} failed: the Hub at ${hubUrl} answered ${answered}; try again later, or check HF_ENDPOINT`,
      context,
    );
  }
  return oneLine(`${what} failed: the Hub answered ${answered}`, context);
}

function oneLine(message: string, { token }: HubFailureContext): string {
  const line = message.replace(/\s+/g, ' ');
  return token ? line.split(token).join('<HF_TOKEN>') : line;
}

/** The HTTP status the Hub answered with, or undefined when it did not answer. */
export function statusOf(error: unknown): number | undefined {
  return error instanceof HubApiError ? error.statusCode : undefined;
}

/** The Hub's own explanation (its JSON `error`), without the URL and request id the client appends. */
export function hubMessage(error: unknown): string {
  const data = error instanceof HubApiError ? error.data : undefined;
  if (data && typeof data.error === 'string') return data.error;
  return messageOf(error).replace(/\. URL: .*$/s, '');
}

// Duck-typed: fetch's errors come from Node's realm, where a test sandbox's `instanceof Error` fails.
interface ErrorLike {
  message?: unknown;
  cause?: unknown;
  errors?: unknown;
}

function messageOf(error: unknown): string {
  const like = typeof error === 'object' && error !== null ? (error as ErrorLike) : undefined;
  if (typeof like?.message === 'string' && like.message !== '') return like.message;
  // Node tries every address of a host; its AggregateError holds one error per address.
  if (Array.isArray(like?.errors)) return like.errors.map(messageOf).join('; ');
  return String(error);
}

/** The innermost reason of a failed fetch ("connect ECONNREFUSED 127.0.0.1:1", "other side closed"). */
function rootCause(error: unknown): string {
  let current = error;
  for (;;) {
    const cause = typeof current === 'object' && current !== null ? (current as ErrorLike).cause : undefined;
    if (cause === undefined) return messageOf(current);
    current = cause;
  }
}
