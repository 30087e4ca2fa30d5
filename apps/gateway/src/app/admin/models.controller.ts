import { Body, Controller, Delete, Get, HttpCode, Post, Query, Req } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { IsBoolean, IsDefined, IsIn, IsNumber, IsOptional, IsString, Length, Max } from 'class-validator';
import type { Request } from 'express';
import { CANDIDATE_MODES, CandidateMode, ErrorCode, ModelAssignment } from '@reputation-monitor/contracts';
import {
  AdminOnly,
  ProblemException,
  keyFingerprint,
  problem,
  validationProblem,
} from '@reputation-monitor/http-edge';
import { ModelAdmin, ModelAdminError, ModelRegistryError } from '@reputation-monitor/model-registry';
import { ProblemDto } from '../sentiment/dto';

class ReasonDto {
  @ApiProperty({ example: 'canary looked good for 24 h', description: 'Why: kept in the audit history.' })
  @IsDefined()
  @IsString()
  @Length(1, 500)
  reason!: string;
}

export class PromoteDto extends ReasonDto {
  @ApiProperty({
    example: 'candidate-fp32-9c0e1d2f3a4b',
    description: 'A version id, commit or branch of the registry.',
  })
  @IsDefined()
  @IsString()
  @Length(1, 200)
  version!: string;

  @ApiPropertyOptional({
    description: 'Promote without a passing gate report (recorded in the audit history).',
  })
  @IsOptional()
  @IsBoolean()
  force?: boolean;
}

export class RollbackDto extends ReasonDto {}

export class CandidateDto extends ReasonDto {
  @ApiProperty({ example: 'candidate-fp32-9c0e1d2f3a4b' })
  @IsDefined()
  @IsString()
  @Length(1, 200)
  version!: string;

  @ApiProperty({
    enum: CANDIDATE_MODES,
    description: 'shadow: scored beside production, answers nobody; canary: answers a share of jobs.',
  })
  @IsDefined()
  @IsIn(CANDIDATE_MODES as unknown as string[])
  mode!: CandidateMode;

  @ApiProperty({
    example: 0.1,
    description: 'Share of jobs routed to the candidate, (0, 1]; sticky per job id.',
  })
  @IsDefined()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Max(1)
  share!: number;
}

const STATUS_BY_KIND: Record<ModelAdminError['kind'], [number, ErrorCode]> = {
  unknown_version: [404, ErrorCode.ModelVersionNotFound],
  gate_not_passed: [409, ErrorCode.GateNotPassed],
  no_previous: [409, ErrorCode.AssignmentConflict],
  no_assignment: [409, ErrorCode.AssignmentConflict],
  conflict: [409, ErrorCode.AssignmentConflict],
  invalid: [422, ErrorCode.ValidationFailed],
  // Written, but not yet safe from a failover; not to be repeated blindly (a rollback would go back twice).
  not_replicated: [503, ErrorCode.ChangeNotReplicated],
};

/**
 * The model registry and the assignment the workers follow: promotion, rollback, shadow and canary.
 * Admin keys only (ADMIN_API_KEYS); every change is recorded with the key's fingerprint and the reason.
 */
@ApiTags('admin')
@ApiBearerAuth()
@AdminOnly()
@ApiResponse({ status: 401, type: ProblemDto, description: 'No key.' })
@ApiResponse({ status: 403, type: ProblemDto, description: 'A client key, or no ADMIN_API_KEYS configured.' })
@ApiResponse({
  status: 503,
  type: ProblemDto,
  description:
    'The registry or Redis cannot be reached, or a change is written but no Redis replica acknowledged it in time: read the assignment before repeating it.',
})
@Controller('v1/admin/models')
export class ModelsController {
  constructor(private readonly admin: ModelAdmin) {}

  @Get()
  @ApiOperation({
    summary: 'Versions in the registry, with provenance, gate verdict and current role (admin key)',
  })
  async versions() {
    return { versions: await this.run(() => this.admin.versions()) };
  }

  @Get('assignment')
  @ApiOperation({
    summary: "The assignment, each live worker's status, and the audit history (admin key)",
    description:
      '`converged`: every live worker serves the current revision; `switchSeconds`: change written → last worker serving it.',
  })
  async assignment(@Query('history') history?: string) {
    const limit = history === undefined ? 20 : Number(history);
    if (!Number.isInteger(limit) || limit < 0 || limit > 1_000) {
      throw validationProblem([
        { field: 'history', message: `must be a whole number in 0..1000, got ${JSON.stringify(history)}` },
      ]);
    }
    const [status, entries] = await this.run(() =>
      Promise.all([this.admin.status(), this.admin.history(limit)]),
    );
    return { ...status, history: entries };
  }

  @Post('promote')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Make a version production (admin key)',
    description:
      'Refused (409 gate_not_passed) without a passing gate report unless `force`; workers switch without a restart.',
  })
  @ApiOkResponse({ description: 'The new assignment.' })
  @ApiResponse({ status: 404, type: ProblemDto, description: 'No such version in the registry.' })
  @ApiResponse({ status: 409, type: ProblemDto, description: 'Gate not passed, or a concurrent change.' })
  promote(@Body() body: PromoteDto, @Req() request: Request): Promise<ModelAssignment> {
    return this.run(() =>
      this.admin.promote({
        version: body.version,
        force: body.force,
        reason: body.reason,
        actor: keyFingerprint(request),
      }),
    );
  }

  @Post('rollback')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Back to the previous production a worker served; any candidate is cleared (admin key)',
    description: 'Versions every worker refused (failed promotions) are skipped.',
  })
  @ApiResponse({ status: 409, type: ProblemDto, description: 'No earlier production to go back to.' })
  rollback(@Body() body: RollbackDto, @Req() request: Request): Promise<ModelAssignment> {
    return this.run(() => this.admin.rollback({ reason: body.reason, actor: keyFingerprint(request) }));
  }

  @Post('candidate')
  @HttpCode(200)
  @ApiOperation({ summary: 'Shadow or canary a version beside production (admin key)' })
  setCandidate(@Body() body: CandidateDto, @Req() request: Request): Promise<ModelAssignment> {
    return this.run(() =>
      this.admin.setCandidate({
        version: body.version,
        mode: body.mode,
        share: body.share,
        reason: body.reason,
        actor: keyFingerprint(request),
      }),
    );
  }

  @Delete('candidate')
  @ApiOperation({ summary: 'Stop the shadow or canary (admin key)' })
  clearCandidate(
    @Query('reason') reason: string | undefined,
    @Req() request: Request,
  ): Promise<ModelAssignment> {
    if (!reason || reason.length > 500) {
      throw validationProblem([{ field: 'reason', message: 'must be given as ?reason=, 1..500 characters' }]);
    }
    return this.run(() => this.admin.clearCandidate({ reason, actor: keyFingerprint(request) }));
  }

  private async run<T>(action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (error) {
      if (error instanceof ModelAdminError) {
        const [status, code] = STATUS_BY_KIND[error.kind];
        throw new ProblemException(problem(status, code, error.message));
      }
      // The registry (the Hub, or its directory) could not be read: nothing was changed.
      if (error instanceof ModelRegistryError) {
        throw new ProblemException(
          problem(503, ErrorCode.ServiceUnavailable, `model registry: ${error.message}`),
          {
            'Retry-After': '10',
          },
        );
      }
      throw error;
    }
  }
}
