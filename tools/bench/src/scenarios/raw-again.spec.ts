import { BenchOptions, parseBenchArgs } from '../options';
import type { Measurement } from '../results';
import { ScenarioContext } from './context';
import { thenRawAgain } from './raw-again';

const options = parseBenchArgs([], { root: '/repo', now: new Date(), env: {} }) as BenchOptions;
const context: ScenarioContext = { root: '/repo', options, tweets: [], log: () => undefined };
const row = (id: string, textsPerSecond: number): Measurement => ({
  id,
  scenario: id.split(':')[0],
  variant: 'int8',
  label: id,
  status: 'ok',
  textsPerSecond,
});

describe('thenRawAgain', () => {
  const served = row('full-batch:int8', 257);

  it("adds a second raw reading on the lanes at the raw rows' first batch size, after the runner's rows", async () => {
    const order: string[] = [];
    const runner = thenRawAgain(
      async () => {
        order.push('served');
        return [served];
      },
      async (_context, variant, size) => {
        order.push(`raw b${size} ${variant}`);
        return [row(`raw-again-b${size}-worker:${variant}`, 280)];
      },
    );
    const rows = await runner(context, 'int8');
    expect(order).toEqual(['served', 'raw b16 int8']);
    expect(rows.map((r) => r.id)).toEqual(['full-batch:int8', 'raw-again-b16-worker:int8']);
  });

  it('keeps the served rows and reports a failed second reading as a failed row', async () => {
    const runner = thenRawAgain(
      async () => [served],
      async () => {
        throw new Error('the child exited with code 1');
      },
    );
    const rows = await runner(context, 'int8');
    expect(rows[0]).toBe(served);
    expect(rows[1]).toMatchObject({
      id: 'raw-again-b16-worker:int8',
      scenario: 'raw',
      status: 'failed',
      note: 'the child exited with code 1',
    });
  });
});
