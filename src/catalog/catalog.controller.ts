import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ListQueryDto } from '../common/list-query.dto.js';
import { PlatformApi } from '../auth/platform-api.decorator.js';
import { uuidPipe } from '../common/pipes.js';
import { CatalogService } from './catalog.service.js';
import { ConnectionSpecListDto, FlowSpecListDto } from './dto/catalog.dto.js';

@PlatformApi()
@Controller('data/foundation/flowservice')
export class CatalogController {
  constructor(private readonly catalog: CatalogService) {}

  /** List connection specs (Event Hubs destination, profile store source). */
  @ApiTags('Connection specs')
  @Get('connectionSpecs')
  listConnectionSpecs(@Query() query: ListQueryDto): ConnectionSpecListDto {
    return this.catalog.listConnectionSpecs(query);
  }

  /** Get one connection spec, including the JSON Schemas of its auth and target params. */
  @ApiTags('Connection specs')
  @Get('connectionSpecs/:id')
  getConnectionSpec(@Param('id', uuidPipe) id: string): ConnectionSpecListDto {
    return this.catalog.getConnectionSpec(id);
  }

  /** List flow specs. */
  @ApiTags('Flow specs')
  @Get('flowSpecs')
  listFlowSpecs(@Query() query: ListQueryDto): FlowSpecListDto {
    return this.catalog.listFlowSpecs(query);
  }

  /** Get one flow spec. */
  @ApiTags('Flow specs')
  @Get('flowSpecs/:id')
  getFlowSpec(@Param('id', uuidPipe) id: string): FlowSpecListDto {
    return this.catalog.getFlowSpec(id);
  }
}
