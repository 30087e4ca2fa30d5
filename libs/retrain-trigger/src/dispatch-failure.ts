/** Where a dispatch goes, for failure messages that say what to check. */
export interface DispatchTarget {
  owner: string;
  repo: string;
  eventType: string;
  baseUrl: string;
}

/** A failed dispatch attempt, sorted into "try again" or "trying again cannot help". */
export interface DispatchFailure {
  retryable: boolean;
  /** GitHub's HTTP status; absent when no answer arrived (connection refused, reset, dropped, timed out). */
  status?: number;
  /** What went wrong, in one line. */
  message: string;
  /** For failures that need a person: what to check. */
  hint?: string;
}

/**
 * Sorts an error thrown by Octokit. Octokit reports an HTTP answer as a RequestError with `status` and
 * `response`, and a request that got no answer (network errors, timeouts) as a RequestError with status 500
 * but no `response`: that one is a network error, not a server error, and both are retried. 429 (rate
 * limited) is retried too. Other 4xx answers are definitive: the same request would fail the same way.
 */
export function classifyDispatchError(error: unknown, target: DispatchTarget): DispatchFailure {
  const status = httpStatus(error);
  const message = errorMessage(error);
  if (status === undefined) {
    return { retryable: true, message: `no answer from ${target.baseUrl}: ${message}` };
  }
  if (status >= 500 || status === 429) {
    return { retryable: true, status, message: `GitHub answered ${status}: ${message}` };
  }
  return {
    retryable: false,
    status,
    message: `GitHub answered ${status}: ${message}`,
    hint: hintFor(status, error, target),
  };
}

function hintFor(status: number, error: unknown, target: DispatchTarget): string {
  const repository = `${target.owner}/${target.repo}`;
  switch (status) {
    case 401:
      return 'check the GitHub token: it is invalid, expired or revoked';
    case 403:
      if (header(error, 'x-ratelimit-remaining') === '0') {
        const reset = Number(header(error, 'x-ratelimit-reset'));
        const until = Number.isFinite(reset) ? ` until ${new Date(reset * 1000).toISOString()}` : '';
        return `the token's API rate limit is used up${until}`;
      }
      return (
        `check the token's permissions on ${repository}: a classic token needs the "repo" scope ` +
        '("public_repo" for a public repository); a fine-grained token or GitHub App needs ' +
        '"Contents: read and write" (a workflow GITHUB_TOKEN: "actions: write" or "contents: write")'
      );
    case 404:
      return (
        `check the repository name "${repository}" and the base URL ${target.baseUrl} ` +
        '(GitHub Enterprise: https://HOST/api/v3); GitHub also answers 404 when the token cannot see a ' +
        'private repository'
      );
    case 422:
      return (
        `check the event type "${target.eventType}" (1 to 100 characters, matching the workflow's ` +
        '"repository_dispatch: types") and the client_payload (at most 10 top-level keys and 64 KB)'
      );
    default:
      return `check the request to ${target.baseUrl}/repos/${repository}/dispatches`;
  }
}

/** The HTTP status of an answer GitHub actually sent; undefined when none arrived. */
function httpStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { status, response } = error as { status?: unknown; response?: unknown };
  if (typeof status !== 'number' || response === undefined) return undefined;
  return status;
}

function header(error: unknown, name: string): string | undefined {
  const headers = (error as { response?: { headers?: Record<string, unknown> } }).response?.headers;
  const value = headers?.[name];
  return typeof value === 'string' ? value : undefined;
}

function errorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // GitHub's messages may span lines ("Invalid request.\n\nFor 'properties/...'"): keep log lines single.
  return message.replace(/\s+/g, ' ').trim() || 'unknown error';
}
