import { Body, Controller, HttpCode, Inject, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import { CallerTenant, validationProblem } from '@reputation-monitor/http-edge';
import { ProblemDto } from '../sentiment/dto';
import { GATEWAY_CONFIG } from '../tokens';
import type { GatewayConfig } from '../gateway-config';
import { ExampleBatchDto, ExampleBatchResultDto, ExampleDto, ExampleResultDto } from './feedback.dto';
import { ExampleResult, FeedbackService } from './feedback.service';

/** Labelled texts that were never predicted; callable with client API keys. */
@ApiTags('feedback')
@ApiBearerAuth()
@ApiSecurity('api-key')
@Controller('v1/examples')
export class ExamplesController {
  constructor(
    private readonly feedback: FeedbackService,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Import one labelled text (client key)',
    description:
      'Kept in Redis for EXAMPLE_TTL_SECONDS until the drift monitor appends it to the dataset store. ' +
      "The same text with the same label is kept once per tenant; another label replaces the tenant's waiting one.",
  })
  @ApiOkResponse({ type: ExampleResultDto })
  @ApiResponse({ status: 422, type: ProblemDto, description: 'Bad text, label or source.' })
  async importOne(
    @Body() body: ExampleDto,
    @CallerTenant() tenant: string | undefined,
  ): Promise<ExampleResult> {
    const [result] = await this.feedback.importExamples([body], () => '', tenant);
    return result;
  }

  @Post('batch')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Import many labelled texts (client key)',
    description: 'Results in request order.',
  })
  @ApiOkResponse({ type: ExampleBatchResultDto })
  @ApiResponse({ status: 422, type: ProblemDto })
  async importMany(
    @Body() body: ExampleBatchDto,
    @CallerTenant() tenant: string | undefined,
  ): Promise<{ results: ExampleResult[] }> {
    if (body.items.length === 0 || body.items.length > this.config.maxBatchItems) {
      throw validationProblem([
        {
          field: 'items',
          message: `must hold 1 to ${this.config.maxBatchItems} examples (got ${body.items.length})`,
        },
      ]);
    }
    return {
      results: await this.feedback.importExamples(body.items, (index) => `items[${index}].`, tenant),
    };
  }
}
