import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Query,
} from '@nestjs/common';
import { ApiExtraModels, ApiTags } from '@nestjs/swagger';
import { uuidPipe } from '../common/pipes.js';
import type { Tenant } from '../common/request-context.js';
import { CurrentTenant, PlatformApi } from '../auth/platform-api.decorator.js';
import {
  CreateSegmentDefinitionDto,
  ListSegmentDefinitionsQueryDto,
  SegmentDefinitionListDto,
  SegmentDefinitionResponseDto,
  SegmentDeletedDto,
  SegmentJobDto,
  UpdateSegmentDefinitionDto,
} from './dto/segment-definition.dto.js';
import {
  SegmentMetricsDto,
  SegmentMetricsQueryDto,
  SegmentStatusCounterDto,
} from './dto/segment-metrics.dto.js';
import { SegmentJobsService } from './segment-jobs.service.js';
import { SegmentMetricsService } from './segment-metrics.service.js';
import { SegmentsService } from './segments.service.js';
import { Idempotent } from '../idempotency/idempotent.decorator.js';

@ApiTags('Segment definitions')
@ApiExtraModels(SegmentStatusCounterDto)
@PlatformApi()
@Controller('data/core/ups/segment')
export class SegmentsController {
  constructor(
    private readonly segments: SegmentsService,
    private readonly jobs: SegmentJobsService,
    private readonly metrics: SegmentMetricsService,
  ) {}

  /** Create a segment definition (200 with the full definition; 422 if the name exists). */
  @Post('definitions')
  @Idempotent()
  @HttpCode(200)
  create(
    @CurrentTenant() tenant: Tenant,
    @Body() dto: CreateSegmentDefinitionDto,
  ): Promise<SegmentDefinitionResponseDto> {
    return this.segments.create(tenant, dto);
  }

  /** List segment definitions (`start`, `limit`, `sort`). */
  @Get('definitions')
  list(
    @CurrentTenant() tenant: Tenant,
    @Query() query: ListSegmentDefinitionsQueryDto,
  ): Promise<SegmentDefinitionListDto> {
    return this.segments.list(tenant, query);
  }

  /** Get one segment definition, with its latest background evaluation. */
  @Get('definitions/:id')
  get(
    @CurrentTenant() tenant: Tenant,
    @Param('id', uuidPipe) id: string,
  ): Promise<SegmentDefinitionResponseDto> {
    return this.segments.get(tenant, id);
  }

  /**
   * Members of a definition: profiles by membership status and the total of
   * members, in Adobe's segment job `metrics` shape, with the time they were
   * counted. Counts are shared by all of the sandbox's definitions and
   * reused for a while (SEGMENT_COUNT_CACHE_MS); a count that runs past
   * SEGMENT_COUNT_TIMEOUT_MS answers `stale` or `unavailable`.
   */
  @Get('definitions/:id/metrics')
  definitionMetrics(
    @CurrentTenant() tenant: Tenant,
    @Param('id', uuidPipe) id: string,
  ): Promise<SegmentMetricsDto> {
    return this.metrics.forDefinition(tenant, id);
  }

  /**
   * Members of up to 100 definitions in one answer (e.g. a page of the
   * definitions list), counted as for one definition.
   */
  @Get('metrics')
  definitionsMetrics(
    @CurrentTenant() tenant: Tenant,
    @Query() query: SegmentMetricsQueryDto,
  ): Promise<SegmentMetricsDto> {
    return this.metrics.forDefinitions(tenant, query.ids);
  }

  /** Overwrite a segment definition (the body is the whole definition). */
  @Patch('definitions/:id')
  update(
    @CurrentTenant() tenant: Tenant,
    @Param('id', uuidPipe) id: string,
    @Body() dto: UpdateSegmentDefinitionDto,
  ): Promise<SegmentDefinitionResponseDto> {
    return this.segments.update(tenant, id, dto);
  }

  /** Delete a segment definition (400 while a flow uses it). */
  @Delete('definitions/:id')
  delete(
    @CurrentTenant() tenant: Tenant,
    @Param('id', uuidPipe) id: string,
  ): Promise<SegmentDeletedDto> {
    return this.segments.delete(tenant, id);
  }

  /** Progress of a background evaluation (new/edited definition or time-relative sweep). */
  @Get('jobs/:id')
  job(
    @CurrentTenant() tenant: Tenant,
    @Param('id', uuidPipe) id: string,
  ): Promise<SegmentJobDto> {
    return this.jobs.get(tenant, id);
  }
}
