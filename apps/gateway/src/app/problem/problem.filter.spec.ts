import { filterAnswer } from '@reputation-monitor/http-edge';
import { NotReplicatedError, ProducerError } from '@reputation-monitor/producer-client';
import { ErrorCode } from '@reputation-monitor/contracts';
import { ProblemFilter } from './problem.filter';

const answer = (error: unknown) => filterAnswer(new ProblemFilter(), error);

describe('ProblemFilter', () => {
  it('refuses a job no replica confirmed in time with 503 and Retry-After: it is not accepted', () => {
    const sent = answer(new NotReplicatedError('t-abc', 1, 0, 1000, 2));
    expect(sent.status).toBe(503);
    expect(sent.headers['retry-after']).toBe('2');
    expect(sent.problem).toMatchObject({ status: 503, code: 'service_unavailable', requestId: 'req-1' });
    expect(sent.problem.detail).toMatch(/not confirmed by a Redis replica within 1000 ms.*retry/);
  });

  it('keeps other producer errors without a mapping of their own a 500', () => {
    const sent = answer(new ProducerError(ErrorCode.Internal, 'odd'));
    expect(sent.status).toBe(500);
  });
});
