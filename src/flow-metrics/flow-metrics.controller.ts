import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { CurrentTenant, PlatformApi } from '../auth/platform-api.decorator.js';
import { uuidPipe } from '../common/pipes.js';
import type { Tenant } from '../common/request-context.js';
import { FlowMetricsDto, FlowMetricsQueryDto } from './dto/flow-metrics.dto.js';
import { FlowMetricsService } from './flow-metrics.service.js';

@ApiTags('Flows')
@PlatformApi()
@Controller('data/foundation/flowservice/flows')
export class FlowMetricsController {
  constructor(private readonly metrics: FlowMetricsService) {}

  /**
   * A flow's lag (age of the oldest unexported change) and its exports and
   * failures per minute over the last `minutes` minutes (default 60).
   */
  @Get(':id/metrics')
  get(
    @CurrentTenant() tenant: Tenant,
    @Param('id', uuidPipe) id: string,
    @Query() query: FlowMetricsQueryDto,
  ): Promise<FlowMetricsDto> {
    return this.metrics.get(tenant, id, query.minutes ?? 60);
  }
}
