import { Controller, Get, Res, ServiceUnavailableException } from '@nestjs/common';
import type { Response } from 'express';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { Inject } from '@nestjs/common';
import { Public, accessMode, withTimeout } from '@reputation-monitor/http-edge';
import { DRIFT_CONFIG } from '../tokens';
import type { DriftConfig } from '../drift-config';
import { DriftStore } from '../drift-store';

const CHECK_TIMEOUT_MS = 1_000;

@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly store: DriftStore,
    @Inject(DRIFT_CONFIG) private readonly config: DriftConfig,
  ) {}

  /** The process is up (cheap; no dependencies checked). */
  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([]);
  }

  /** Redis answers. (Inference workers are not required: without them only the golden set fails, and says so.) */
  @Get('ready')
  @HealthCheck()
  async ready(@Res({ passthrough: true }) response: Response) {
    try {
      return await this.health.check([
        () => this.redis(),
        () => this.indicators.check('auth').up({ mode: accessMode(this.config) }),
      ]);
    } catch (error) {
      if (error instanceof ServiceUnavailableException) {
        response.status(503);
        return error.getResponse();
      }
      throw error;
    }
  }

  private async redis() {
    const check = this.indicators.check('redis');
    try {
      await withTimeout(this.store.redis.ping(), CHECK_TIMEOUT_MS);
      return check.up();
    } catch (error) {
      return check.down({ message: (error as Error).message });
    }
  }
}
