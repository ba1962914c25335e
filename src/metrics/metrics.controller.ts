import { Controller, Get, Res, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { MetricsService } from './metrics.service.js';
import { MetricsTokenGuard } from './metrics-token.guard.js';

/**
 * Prometheus scrape endpoint (CONTRACT A1). Open unless METRICS_TOKEN is set
 * (then a bearer token): without it, expose it only on an internal network.
 * Left out of the public OpenAPI document on purpose: it is not a Platform API.
 */
@ApiExcludeController()
@Controller('metrics')
@UseGuards(MetricsTokenGuard)
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  async scrape(@Res({ passthrough: true }) res: Response): Promise<string> {
    const text = await this.metrics.render();
    res.setHeader('content-type', this.metrics.contentType);
    return text;
  }
}
