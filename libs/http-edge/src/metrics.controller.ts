import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import type { Registry } from 'prom-client';
import { METRICS_REGISTRY } from '@reputation-monitor/observability';
import { Public } from './api-key.guard';

/**
 * /metrics for Prometheus: the app's registry (METRICS_REGISTRY), open like the health routes (only /v1 needs
 * an API key). Its content type follows the registry's (OpenMetrics while exemplars are on).
 */
@ApiExcludeController()
@Public()
@Controller('metrics')
export class MetricsController {
  constructor(@Inject(METRICS_REGISTRY) private readonly registry: Registry) {}

  @Get()
  async index(@Res({ passthrough: true }) response: Response): Promise<string> {
    response.header('Content-Type', this.registry.contentType);
    return this.registry.metrics();
  }
}
