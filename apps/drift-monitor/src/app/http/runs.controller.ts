import { Body, Controller, HttpCode, Inject, Post } from '@nestjs/common';
import { DRIFT_CONFIG } from '../tokens';
import type { DriftConfig } from '../drift-config';
import { ErrorCode } from '@reputation-monitor/contracts';
import { AdminOnly, ProblemException, problem, validationProblem } from '@reputation-monitor/http-edge';
import { DriftRunService, RunBusyError } from '../drift-run.service';
import type { RunReport } from '../report';
import { parseRunRequest } from './requests';

/** Admin keys only: a run may export labelled data and dispatch a retrain. */
@AdminOnly()
@Controller('v1/runs')
export class RunsController {
  constructor(
    private readonly runs: DriftRunService,
    @Inject(DRIFT_CONFIG) private readonly config: DriftConfig,
  ) {}

  /**
   * Evaluates one window now and answers with its report (also stored like a scheduled run's); 409 when
   * another replica's run keeps the lease for longer than a manual run waits.
   */
  @Post()
  @HttpCode(200)
  async run(@Body() body: unknown): Promise<RunReport> {
    const request = parseRunRequest(body, Date.now(), this.config.windowMinutes * 60_000);
    if (!request.ok) throw validationProblem(request.errors);
    try {
      return await this.runs.run({
        windowEnd: request.value.windowEnd,
        triggeredBy: 'manual',
        requestRetrain: request.value.retrain,
      });
    } catch (error) {
      if (error instanceof RunBusyError)
        throw new ProblemException(problem(409, ErrorCode.RunInProgress, error.message), {
          'Retry-After': '10',
        });
      throw error;
    }
  }
}
