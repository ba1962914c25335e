import { Controller, Get, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { MetricsService } from './metrics.service.js';

/**
 * Prometheus scrape endpoint (CONTRACT A1). It has no authentication, like
 * /health: expose it only on an internal network (or block it at the ingress).
 * Left out of the public OpenAPI document on purpose: it is not a Platform API.
 */
@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  async scrape(@Res({ passthrough: true }) res: Response): Promise<string> {
    const text = await this.metrics.render();
    res.setHeader('content-type', this.metrics.contentType);
    return text;
  }
}
