import { HubApiError, InvalidApiResponseFormatError } from '@huggingface/hub';
import { describeHubAnswer, describeHubFailure, hubMessage, statusOf } from './hub-failure';

const context = {
  what: 'reading acme/examples',
  hubUrl: 'http://127.0.0.1:1',
  token: 'hf_secret',
  tokenRefused: ' and can read the repo',
  forbidden: 'check that HF_TOKEN can read the repo',
};

function answered(status: number, error: string): HubApiError {
  const failure = new HubApiError('http://hub/api/x', status, 'req-1', `${error}. URL: http://hub/api/x`);
  failure.data = { error };
  return failure;
}

describe('describeHubFailure', () => {
  it('says what a status means and what to check, in one line', () => {
    expect(describeHubFailure(answered(401, 'Invalid credentials'), context)).toBe(
      'reading acme/examples failed: the Hub refused the token (401: Invalid credentials); check that HF_TOKEN is valid and can read the repo',
    );
    expect(describeHubFailure(answered(401, 'Repository not found'), { ...context, token: undefined })).toBe(
      'reading acme/examples failed: the Hub needs a token (401: Repository not found); the repo is private or does not exist, set HF_TOKEN',
    );
    expect(describeHubFailure(answered(403, 'Forbidden'), context)).toMatch(
      /not allowed \(403: Forbidden\); check that HF_TOKEN can read the repo$/,
    );
    expect(describeHubFailure(answered(404, 'Repository not found'), context)).toMatch(
      /not found .* check the repo name/,
    );
    expect(describeHubFailure(answered(503, 'Service Unavailable'), context)).toMatch(
      /the Hub at http:\/\/127\.0\.0\.1:1 answered 503: Service Unavailable; try again later/,
    );
    expect(describeHubFailure(answered(418, 'teapot'), context)).toBe(
      'reading acme/examples failed: the Hub answered 418: teapot',
    );
  });

  it('tells an endpoint that is not a Hub from one that cannot be reached, naming the innermost cause', () => {
    expect(describeHubFailure(new InvalidApiResponseFormatError('no json'), context)).toMatch(
      /does not answer like a Hub \(no json\); check HF_ENDPOINT/,
    );
    const refused = new Error('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:1') });
    expect(describeHubFailure(refused, context)).toMatch(
      /cannot reach .* \(connect ECONNREFUSED 127\.0\.0\.1:1\)/,
    );
    const everyAddress = new Error('fetch failed', {
      cause: Object.assign(new Error(''), {
        errors: [new Error('ECONNREFUSED ::1'), new Error('ECONNREFUSED 127.0.0.1')],
      }),
    });
    expect(describeHubFailure(everyAddress, context)).toMatch(
      /\(ECONNREFUSED ::1; ECONNREFUSED 127\.0\.0\.1\)/,
    );
  });

  it('never repeats the token, and keeps to one line', () => {
    const leaky = answered(500, 'bad header Bearer hf_secret\nsecond line');
    const message = describeHubFailure(leaky, context);
    expect(message).not.toContain('hf_secret');
    expect(message).toContain('<HF_TOKEN>');
    expect(message).not.toContain('\n');
    expect(describeHubAnswer(401, 'token hf_secret refused', context)).not.toContain('hf_secret');
  });

  it('reads the status and the Hub message of an error, and nothing of other errors', () => {
    expect(statusOf(answered(409, 'exists'))).toBe(409);
    expect(statusOf(new Error('x'))).toBeUndefined();
    expect(hubMessage(new HubApiError('u', 500, undefined, 'Internal. URL: u, Request ID: r'))).toBe(
      'Internal',
    );
  });
});
