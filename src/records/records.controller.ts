import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { uuidPipe } from '../common/pipes.js';
import type { Tenant } from '../common/request-context.js';
import { CurrentTenant, PlatformApi } from '../auth/platform-api.decorator.js';
import { RecordListDto, RecordListQueryDto } from './dto/record.dto.js';
import { RecordsService } from './records.service.js';

@ApiTags('Runs')
@PlatformApi()
@Controller('data/foundation/flowservice/runs')
export class RecordsController {
  constructor(private readonly records: RecordsService) {}

  /** List a run's failed or excluded records with their reasons, newest first (`status=failed|excluded`). */
  @Get(':id/records')
  list(
    @CurrentTenant() tenant: Tenant,
    @Param('id', uuidPipe) id: string,
    @Query() query: RecordListQueryDto,
  ): Promise<RecordListDto> {
    return this.records.list(tenant, id, query);
  }
}
