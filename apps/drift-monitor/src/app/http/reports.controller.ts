import { Controller, Get, Param, Query } from '@nestjs/common';
import { ErrorCode } from '@reputation-monitor/contracts';
import { DriftStore } from '../drift-store';
import { ProblemException, problem, validationProblem } from '@reputation-monitor/http-edge';
import { REPORT_ID_PATTERN, RunReport } from '../report';
import { parseLimit } from './requests';

@Controller('v1/reports')
export class ReportsController {
  constructor(private readonly store: DriftStore) {}

  /** Newest first. */
  @Get()
  async list(@Query('limit') limit: unknown): Promise<{ reports: RunReport[] }> {
    const parsed = parseLimit(limit);
    if (!parsed.ok) throw validationProblem(parsed.errors);
    return { reports: await this.store.latestReports(parsed.value) };
  }

  @Get('latest')
  async latest(): Promise<RunReport> {
    const [report] = await this.store.latestReports(1);
    if (!report)
      throw new ProblemException(problem(404, ErrorCode.NotFound, 'no report yet: no run has finished'));
    return report;
  }

  @Get(':id')
  async byId(@Param('id') id: string): Promise<RunReport> {
    const report = REPORT_ID_PATTERN.test(id) ? await this.store.getReport(id) : undefined;
    if (!report) {
      throw new ProblemException(
        problem(
          404,
          ErrorCode.NotFound,
          `no report with id "${id}" (unknown, or older than REPORT_RETENTION keeps)`,
        ),
      );
    }
    return report;
  }
}
