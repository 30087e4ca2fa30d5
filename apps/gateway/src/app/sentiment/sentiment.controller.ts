import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiResponse,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import {
  AcceptedJob,
  BatchResult,
  ErrorCode,
  FieldError,
  JobStatusView,
  SentimentResult,
  clientSourceProblem,
} from '@reputation-monitor/contracts';
import {
  DraftItem,
  IdempotencyConflictError,
  InvalidRequestError,
  ResultTimeoutError,
  SentimentProducer,
} from '@reputation-monitor/producer-client';
import {
  CallerTenant,
  ProblemException,
  RequestId,
  problem,
  validationProblem,
} from '@reputation-monitor/http-edge';
import { GatewayMetrics } from '../metrics/gateway-metrics';
import { GATEWAY_CONFIG } from '../tokens';
import type { GatewayConfig } from '../gateway-config';
import {
  AcceptedJobDto,
  BatchRequestDto,
  BatchResponseDto,
  JobStatusDto,
  ProblemDto,
  SentimentRequestDto,
  SentimentResponseDto,
} from './dto';

/** Paths of the POST routes, for labelling requests refused before routing (bad bodies). */
export const SENTIMENT_ROUTES: ReadonlySet<string> = new Set(['/v1/sentiment', '/v1/sentiment/batch']);

/** What job ids look like (`~` separates a tenant's scope); anything else is answered 404 without a lookup. */
const JOB_ID_PATTERN = /^[A-Za-z0-9_.~-]{1,250}$/;

@ApiTags('sentiment')
@ApiBearerAuth()
@ApiSecurity('api-key')
@ApiResponse({
  status: 401,
  type: ProblemDto,
  description: 'Missing or wrong API key (when keys are configured).',
})
@Controller('v1')
export class SentimentController {
  constructor(
    private readonly producer: SentimentProducer,
    private readonly metrics: GatewayMetrics,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  @Post('sentiment')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Classify one text',
    description: 'Waits for the result up to SYNC_TIMEOUT_MS, then answers 202 with a status URL.',
  })
  @ApiQuery({
    name: 'wait',
    required: false,
    enum: ['true', 'false'],
    description: 'false: answer 202 at once.',
  })
  @ApiOkResponse({ type: SentimentResponseDto })
  @ApiAcceptedResponse({ type: AcceptedJobDto })
  @ApiResponse({
    status: 409,
    type: ProblemDto,
    description: 'The id was already used for a different text.',
  })
  @ApiResponse({ status: 422, type: ProblemDto, description: 'Invalid input; `errors` names each field.' })
  @ApiResponse({ status: 429, type: ProblemDto, description: 'Queue full; see Retry-After.' })
  async classifyOne(
    @Body() body: SentimentRequestDto,
    @Query('wait') wait: string | undefined,
    @CallerTenant() tenant: string | undefined,
    @RequestId() requestId: string | undefined,
    @Res({ passthrough: true }) response: Response,
  ): Promise<SentimentResult | AcceptedJob> {
    const started = performance.now();
    const shouldWait = this.waits(wait);
    assertClientSource(body.source);
    const job = await this.producer
      .enqueue([{ text: body.text, id: body.id }], {
        source: body.source,
        tenant,
        requestId,
        awaitResult: shouldWait,
      })
      .catch((error) => {
        throw asSingleItemError(error);
      });
    const result = shouldWait ? await this.awaitResult(job.jobId) : undefined;
    if (!result) return this.accepted(response, job.jobId, started);
    this.metrics.answered('sync', started);
    return {
      ...result.predictions[0],
      model: result.model,
      timings: { ...result.timings, totalMs: Math.round(performance.now() - started) },
    } as SentimentResult;
  }

  @Post('sentiment/batch')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Classify many texts in one job',
    description: 'Results come back in request order.',
  })
  @ApiQuery({
    name: 'wait',
    required: false,
    enum: ['true', 'false'],
    description: 'false: answer 202 at once.',
  })
  @ApiOkResponse({ type: BatchResponseDto })
  @ApiAcceptedResponse({ type: AcceptedJobDto })
  @ApiResponse({
    status: 409,
    type: ProblemDto,
    description: 'An id was already used for a different text; `errors` names each item.',
  })
  @ApiResponse({ status: 422, type: ProblemDto })
  @ApiResponse({ status: 429, type: ProblemDto })
  async classifyBatch(
    @Body() body: BatchRequestDto,
    @Query('wait') wait: string | undefined,
    @CallerTenant() tenant: string | undefined,
    @RequestId() requestId: string | undefined,
    @Res({ passthrough: true }) response: Response,
  ): Promise<BatchResult | AcceptedJob> {
    const started = performance.now();
    const shouldWait = this.waits(wait);
    assertClientSource(body.source);
    const items: DraftItem[] = body.items.map((item) => ({ text: item.text, id: item.id }));
    const job = await this.producer.enqueue(items, {
      source: body.source,
      tenant,
      requestId,
      awaitResult: shouldWait,
    });
    const result = shouldWait ? await this.awaitResult(job.jobId) : undefined;
    if (!result) return this.accepted(response, job.jobId, started);
    this.metrics.answered('sync', started);
    return {
      jobId: job.jobId,
      model: result.model,
      results: result.predictions,
      timings: { ...result.timings, totalMs: Math.round(performance.now() - started) },
    } as BatchResult;
  }

  @Get('jobs/:id')
  @ApiOperation({ summary: "Status and results of a job (only jobs created with the same key's tenant)" })
  @ApiOkResponse({ type: JobStatusDto })
  @ApiResponse({ status: 404, type: ProblemDto, description: "Unknown, expired or another tenant's job id." })
  async job(@Param('id') id: string, @CallerTenant() tenant: string | undefined): Promise<JobStatusView> {
    const known = JOB_ID_PATTERN.test(id);
    const view = known ? await this.producer.getJob(id, tenant) : undefined;
    if (!view)
      throw new ProblemException(
        problem(
          404,
          ErrorCode.NotFound,
          known
            ? `no job with id "${id}" (unknown, or its result has expired)`
            : 'no job with this id (job ids are 1-250 characters of letters, digits, "_", ".", "~" or "-")',
        ),
      );
    return view;
  }

  private accepted(response: Response, jobId: string, acceptedAt: number): AcceptedJob {
    this.metrics.acceptedAsync(jobId, acceptedAt);
    const statusUrl = `/v1/jobs/${jobId}`;
    response.status(202).location(statusUrl);
    return { jobId, status: 'queued', statusUrl };
  }

  /** Whether this request waits for its result (asked, and waiting is not switched off). */
  private waits(wait: string | undefined): boolean {
    return parseWait(wait) && this.config.syncTimeoutMs > 0;
  }

  private async awaitResult(jobId: string) {
    try {
      return await this.producer.waitForResult(jobId, this.config.syncTimeoutMs);
    } catch (error) {
      if (error instanceof ResultTimeoutError) return undefined;
      throw error;
    }
  }
}

/** The producer names fields of its item list; a single request has no list, so name its own fields. */
function asSingleItemError(error: unknown): unknown {
  const fields = (errors: FieldError[]) =>
    errors.map((item) => ({ ...item, field: item.field.replace(/^items\[0\]\./, '') }));
  if (error instanceof InvalidRequestError) return new InvalidRequestError(fields(error.errors));
  if (error instanceof IdempotencyConflictError && error.errors.length > 0)
    return new IdempotencyConflictError({ errors: fields(error.errors) });
  return error;
}

/** Sources the system writes itself (the drift monitor's golden set) are refused at the edge. */
function assertClientSource(source: string | undefined): void {
  if (typeof source !== 'string') return; // absent, or a wrong type the DTO check has refused already
  const issue = clientSourceProblem(source);
  if (issue) throw validationProblem([{ field: 'source', message: issue }]);
}

function parseWait(wait: string | undefined): boolean {
  if (wait === undefined || wait === 'true') return true;
  if (wait === 'false') return false;
  throw validationProblem([{ field: 'wait', message: 'must be true or false' }]);
}
