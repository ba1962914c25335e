import { Controller, Get, Param, ParseUUIDPipe, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ListQueryDto } from '../common/list-query.dto.js';
import { PlatformApi } from '../auth/platform-api.decorator.js';
import { CatalogService } from './catalog.service.js';
import { ConnectionSpecListDto, FlowSpecListDto } from './dto/catalog.dto.js';

@ApiTags('Connection specs', 'Flow specs')
@PlatformApi()
@Controller('data/foundation/flowservice')
export class CatalogController {
  constructor(private readonly catalog: CatalogService) {}

  /** List connection specs (Event Hubs destination, profile store source). */
  @Get('connectionSpecs')
  listConnectionSpecs(@Query() query: ListQueryDto): ConnectionSpecListDto {
    return this.catalog.listConnectionSpecs(query);
  }

  /** Get one connection spec, including the JSON Schemas of its auth and target params. */
  @Get('connectionSpecs/:id')
  getConnectionSpec(
    @Param('id', new ParseUUIDPipe()) id: string,
  ): ConnectionSpecListDto {
    return this.catalog.getConnectionSpec(id);
  }

  /** List flow specs. */
  @Get('flowSpecs')
  listFlowSpecs(@Query() query: ListQueryDto): FlowSpecListDto {
    return this.catalog.listFlowSpecs(query);
  }

  /** Get one flow spec. */
  @Get('flowSpecs/:id')
  getFlowSpec(@Param('id', new ParseUUIDPipe()) id: string): FlowSpecListDto {
    return this.catalog.getFlowSpec(id);
  }
}
