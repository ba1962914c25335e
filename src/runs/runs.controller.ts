import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ListQueryDto } from '../common/list-query.dto.js';
import { uuidPipe } from '../common/pipes.js';
import type { Tenant } from '../common/request-context.js';
import { CurrentTenant, PlatformApi } from '../auth/platform-api.decorator.js';
import { RunListDto } from './dto/run.dto.js';
import { RunsService } from './runs.service.js';

@ApiTags('Runs')
@PlatformApi()
@Controller('data/foundation/flowservice/runs')
export class RunsController {
  constructor(private readonly runs: RunsService) {}

  /** List runs (one per flow per UTC hour), e.g. `property=flowId==<id>`. */
  @Get()
  list(
    @CurrentTenant() tenant: Tenant,
    @Query() query: ListQueryDto,
  ): Promise<RunListDto> {
    return this.runs.list(tenant, query);
  }

  /** Get one run with its metrics. */
  @Get(':id')
  async get(
    @CurrentTenant() tenant: Tenant,
    @Param('id', uuidPipe) id: string,
  ): Promise<RunListDto> {
    return { items: [await this.runs.get(tenant, id)] };
  }
}
