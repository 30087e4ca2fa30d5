import { failed, Measurement, Variant } from '../results';
import { ScenarioContext, ScenarioRunner } from './context';

/** Raw on the worker's lanes at one batch size, as a second reading (`raw-again-b16-worker:int8`, ...). */
export type RawAgainReader = (
  context: ScenarioContext,
  variant: Variant,
  size: number,
) => Promise<Measurement[]>;

/**
 * `runner`'s rows, then the raw ceiling on the worker's lanes read once more (its first batch size). The batch
 * requests' ratio takes the best raw reading on the lanes, so one disturbed reading cannot make it: this VM's rows
 * swung by up to 30 % minutes apart, and one disturbed raw row once put the ratio at 1.08. A second reading that
 * fails is a failed row of its own; the runner's rows stay.
 */
export function thenRawAgain(runner: ScenarioRunner, read: RawAgainReader): ScenarioRunner {
  return async (context, variant) => {
    const rows = await runner(context, variant);
    const size = context.options.rawBatchSizes[0];
    try {
      return [...rows, ...(await read(context, variant, size))];
    } catch (error) {
      const id = `raw-again-b${size}-worker:${variant}`;
      return [...rows, failed({ id, scenario: 'raw', variant, label: 'raw on the lanes, again' }, error)];
    }
  };
}
