import { Controller, Get, Inject, Res, ServiceUnavailableException } from '@nestjs/common';
import type { Response } from 'express';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { WORKER_HEARTBEAT_TTL_MS, redisKeys } from '@reputation-monitor/contracts';
import type { Redis } from 'ioredis';
import { Public, accessMode, withTimeout } from '@reputation-monitor/http-edge';
import { GATEWAY_CONFIG, REDIS } from '../tokens';
import type { GatewayConfig } from '../gateway-config';

const CHECK_TIMEOUT_MS = 1_000;

@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(REDIS) private readonly connection: Redis,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  @Get('live')
  @HealthCheck()
  @ApiOperation({ summary: 'The process is up (cheap; no dependencies checked)' })
  live() {
    return this.health.check([]);
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({
    summary:
      'Redis answers and at least one inference worker has sent a heartbeat recently; `auth` says how /v1 is guarded',
  })
  async ready(@Res({ passthrough: true }) response: Response) {
    try {
      return await this.health.check([
        () => this.redis(),
        () => this.workers(),
        () => this.indicators.check('auth').up({ mode: accessMode(this.config) }),
      ]);
    } catch (error) {
      // Terminus reports a failed check as a 503 exception; answer with its report, not a generic problem.
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
      await withTimeout(this.connection.ping(), CHECK_TIMEOUT_MS);
      return check.up();
    } catch (error) {
      return check.down({ message: (error as Error).message });
    }
  }

  private async workers() {
    const check = this.indicators.check('workers');
    try {
      const since = Date.now() - WORKER_HEARTBEAT_TTL_MS;
      const alive = await withTimeout(
        this.connection.zcount(redisKeys.workerHeartbeats(this.config.queuePrefix), since, '+inf'),
        CHECK_TIMEOUT_MS,
      );
      return alive > 0
        ? check.up({ alive })
        : check.down({ alive, message: 'no inference worker heartbeat' });
    } catch (error) {
      return check.down({ message: (error as Error).message });
    }
  }
}
