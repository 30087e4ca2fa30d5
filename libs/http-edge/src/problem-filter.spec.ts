import { filterAnswer } from './filter-answer';
import { ProblemFilterBase } from './problem-filter';

class Filter extends ProblemFilterBase {
  protected readonly unavailableDetail = 'redis is away';
}

const answer = (error: unknown) => filterAnswer(new Filter(), error);

describe('ProblemFilterBase', () => {
  it('answers a RangeError (input past the engine limits) with 422, not 500', () => {
    const sent = answer(new RangeError('Maximum call stack size exceeded'));
    expect(sent.status).toBe(422);
    expect(sent.problem).toMatchObject({ status: 422, code: 'validation_failed', requestId: 'req-1' });
  });

  it('answers Redis at maxmemory with 503 store_full and Retry-After', () => {
    const sent = answer(new Error("OOM command not allowed when used memory > 'maxmemory'."));
    expect(sent.status).toBe(503);
    expect(sent.headers['retry-after']).toBe('30');
    expect(sent.problem.code).toBe('store_full');
  });

  it('keeps 500 for what nobody expects', () => {
    expect(answer(new TypeError('x is undefined')).status).toBe(500);
  });
});
