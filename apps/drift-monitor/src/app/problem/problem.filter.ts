import { Catch } from '@nestjs/common';
import { ProblemFilterBase } from '@reputation-monitor/http-edge';

/** Every error leaves as RFC 9457 problem+json, like the gateway's; only genuine faults become 5xx. */
@Catch()
export class ProblemFilter extends ProblemFilterBase {
  protected readonly unavailableDetail = 'Redis is unreachable; retry later';
}
