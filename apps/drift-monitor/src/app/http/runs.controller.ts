import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { DriftRunService } from '../drift-run.service';
import { validationProblem } from '@reputation-monitor/http-edge';
import type { RunReport } from '../report';
import { parseRunRequest } from './requests';

@Controller('v1/runs')
export class RunsController {
  constructor(private readonly runs: DriftRunService) {}

  /** Evaluates one window now and answers with its report (also stored like a scheduled run's). */
  @Post()
  @HttpCode(200)
  async run(@Body() body: unknown): Promise<RunReport> {
    const request = parseRunRequest(body, Date.now());
    if (!request.ok) throw validationProblem(request.errors);
    return this.runs.run({ windowEnd: request.value.windowEnd, triggeredBy: 'manual' });
  }
}
