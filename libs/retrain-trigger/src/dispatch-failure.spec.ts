import { Octokit } from '@octokit/rest';
import { classifyDispatchError } from './dispatch-failure';

const target = {
  owner: 'acme',
  repo: 'models',
  eventType: 'retrain-model',
  baseUrl: 'https://api.github.com',
};

/** The shape of Octokit's RequestError: an answer has `response`, a request with no answer does not. */
function answered(status: number, message: string, headers: Record<string, string> = {}): Error {
  return Object.assign(new Error(message), { status, response: { status, headers, data: {} } });
}
function unanswered(message: string): Error {
  return Object.assign(new Error(message), { status: 500 });
}

describe('classifyDispatchError', () => {
  it('retries server errors, rate limiting and requests that got no answer', () => {
    expect(classifyDispatchError(answered(502, 'Bad Gateway'), target)).toMatchObject({
      retryable: true,
      status: 502,
    });
    expect(classifyDispatchError(answered(429, 'Too Many Requests'), target).retryable).toBe(true);
    const dropped = classifyDispatchError(unanswered('other side closed'), target);
    expect(dropped).toEqual({
      retryable: true,
      message: 'no answer from https://api.github.com: other side closed',
    });
  });

  it.each([
    [401, 'Bad credentials', /token: it is invalid, expired or revoked/],
    [403, 'Resource not accessible by personal access token', /"repo" scope.*Contents: read and write/],
    [404, 'Not Found', /repository name "acme\/models".*base URL/],
    [422, 'Invalid request.\n\nFor properties', /event type "retrain-model".*client_payload/],
  ])('does not retry %i and says what to check', (status, message, hint) => {
    const failure = classifyDispatchError(answered(status, message), target);
    expect(failure.retryable).toBe(false);
    expect(failure.status).toBe(status);
    expect(failure.hint).toMatch(hint);
    expect(failure.message).not.toContain('\n');
  });

  it('tells an exhausted rate limit apart from a missing permission on 403', () => {
    const failure = classifyDispatchError(
      answered(403, 'API rate limit exceeded', {
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': '1700000000',
      }),
      target,
    );
    expect(failure.hint).toBe("the token's API rate limit is used up until 2023-11-14T22:13:20.000Z");
  });
});

describe('@octokit/rest', () => {
  it('has no retry or throttling plugin of its own, so the retry policy is ours', () => {
    const plugins = (Octokit as unknown as { plugins: Array<{ name: string }> }).plugins.map(
      (plugin) => plugin.name,
    );
    expect(plugins.length).toBeGreaterThan(0);
    expect(plugins.filter((name) => /retry|throttl/i.test(name))).toEqual([]);
  });
});
