import { Body, Controller, HttpCode, Inject, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import { ErrorCode } from '@reputation-monitor/contracts';
import { CallerTenant, ProblemException, problem, validationProblem } from '@reputation-monitor/http-edge';
import { ProblemDto } from '../sentiment/dto';
import { GATEWAY_CONFIG } from '../tokens';
import type { GatewayConfig } from '../gateway-config';
import { FeedbackBatchDto, FeedbackBatchResultDto, FeedbackDto, FeedbackResultDto } from './feedback.dto';
import { FeedbackResult, FeedbackService } from './feedback.service';

@ApiTags('feedback')
@ApiBearerAuth()
@ApiSecurity('api-key')
@Controller('v1/feedback')
export class FeedbackController {
  constructor(
    private readonly feedback: FeedbackService,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Label an earlier prediction',
    description: 'A second label for the same id replaces the first.',
  })
  @ApiOkResponse({ type: FeedbackResultDto })
  @ApiResponse({
    status: 404,
    type: ProblemDto,
    description: "No prediction with that id for this key's tenant (unknown, or older than the index keeps).",
  })
  @ApiResponse({
    status: 422,
    type: ProblemDto,
    description: 'Bad id or label; the message lists the allowed labels.',
  })
  async label(
    @Body() body: FeedbackDto,
    @CallerTenant() tenant: string | undefined,
  ): Promise<FeedbackResult> {
    const [result] = await this.feedback.submit([body], () => '', tenant);
    if (result.status === 'not_found') {
      throw new ProblemException(
        problem(
          404,
          ErrorCode.NotFound,
          `no prediction with id "${body.id}" (unknown, or older than the index keeps)`,
        ),
      );
    }
    return result;
  }

  @Post('batch')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Label many predictions',
    description: 'Per-item status: stored, replaced or not_found.',
  })
  @ApiOkResponse({ type: FeedbackBatchResultDto })
  @ApiResponse({ status: 422, type: ProblemDto })
  async labelMany(
    @Body() body: FeedbackBatchDto,
    @CallerTenant() tenant: string | undefined,
  ): Promise<{ results: FeedbackResult[] }> {
    if (body.items.length === 0 || body.items.length > this.config.maxBatchItems) {
      throw validationProblem([
        {
          field: 'items',
          message: `must hold 1 to ${this.config.maxBatchItems} labels (got ${body.items.length})`,
        },
      ]);
    }
    return { results: await this.feedback.submit(body.items, (index) => `items[${index}].`, tenant) };
  }
}
