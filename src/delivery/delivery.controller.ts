import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { uuidPipe } from '../common/pipes.js';
import type { Tenant } from '../common/request-context.js';
import { CurrentTenant, PlatformApi } from '../auth/platform-api.decorator.js';
import { FlowPreviewDto, PreviewQueryDto } from './dto/preview.dto.js';
import { DeliveryService } from './delivery.service.js';

@ApiTags('Flows')
@PlatformApi()
@Controller('data/foundation/flowservice/flows')
export class DeliveryController {
  constructor(private readonly delivery: DeliveryService) {}

  /**
   * What the flow would send for one profile now, per target: the exact body, application properties, messageId,
   * partition key and id, and trigger; or why nothing would be sent. Sends nothing and changes nothing.
   */
  @Get(':id/preview')
  preview(
    @CurrentTenant() tenant: Tenant,
    @Param('id', uuidPipe) id: string,
    @Query() query: PreviewQueryDto,
  ): Promise<FlowPreviewDto> {
    return this.delivery.preview(tenant, id, query);
  }
}
