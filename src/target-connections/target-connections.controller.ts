import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Param,
  Patch,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import {
  ApiBody,
  ApiHeader,
  ApiOkResponse,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { CreatedDto } from '../common/common.dto.js';
import { PatchOperationDto } from '../common/patch-operation.dto.js';
import { ListQueryDto } from '../common/list-query.dto.js';
import { patchPipe, singleQueryPipe, uuidPipe } from '../common/pipes.js';
import type { Tenant } from '../common/request-context.js';
import { CurrentTenant, PlatformApi } from '../auth/platform-api.decorator.js';
import {
  CreateLinkedConnectionDto,
  LinkedConnectionListDto,
} from '../connections/dto/linked-connection.dto.js';
import { TargetConnectionsService } from './target-connections.service.js';

const PATH = 'data/foundation/flowservice/targetConnections';

/**
 * Source and target connections share their logic (LinkedConnectionsService)
 * but not a controller base class: @nestjs/swagger's plugin metadata crashes
 * on route methods inherited from a base class, so each resource declares its
 * thin handlers itself.
 */
@ApiTags('Target connections')
@PlatformApi()
@Controller(PATH)
export class TargetConnectionsController {
  constructor(private readonly connections: TargetConnectionsService) {}

  /** Create a target connection; returns its id and etag. */
  @Post()
  async create(
    @CurrentTenant() tenant: Tenant,
    @Body() body: CreateLinkedConnectionDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<CreatedDto> {
    const created = await this.connections.create(tenant, body);
    res.location(`/${PATH}/${created.id}`);
    return created;
  }

  /** List target connections with filters, sorting and paging. */
  @Get()
  @ApiOkResponse({ type: LinkedConnectionListDto })
  list(
    @CurrentTenant() tenant: Tenant,
    @Query() query: ListQueryDto,
  ): Promise<LinkedConnectionListDto> {
    return this.connections.list(
      tenant,
      query,
    ) as Promise<LinkedConnectionListDto>;
  }

  /** Get one target connection as `{items: [...]}`. */
  @Get(':id')
  @ApiOkResponse({ type: LinkedConnectionListDto })
  async get(
    @CurrentTenant() tenant: Tenant,
    @Param('id', uuidPipe) id: string,
  ): Promise<LinkedConnectionListDto> {
    return { items: [await this.connections.get(tenant, id)] };
  }

  /** Update name, description or params with JSON Patch; needs If-Match. */
  @Patch(':id')
  @ApiHeader({
    name: 'If-Match',
    required: false,
    description:
      'The etag, in double quotes (or the if-match query parameter).',
  })
  @ApiQuery({ name: 'if-match', required: false })
  @ApiBody({ type: [PatchOperationDto] })
  @ApiOkResponse({ type: CreatedDto })
  patch(
    @CurrentTenant() tenant: Tenant,
    @Param('id', uuidPipe) id: string,
    @Headers('if-match') ifMatchHeader: string | undefined,
    @Query('if-match', singleQueryPipe) ifMatchQuery: string | undefined,
    @Body(patchPipe) ops: PatchOperationDto[],
  ): Promise<CreatedDto> {
    return this.connections.patch(
      tenant,
      id,
      ifMatchHeader ?? ifMatchQuery,
      ops,
    );
  }

  /** Delete a target connection; refused while a flow uses it. */
  @Delete(':id')
  @HttpCode(202)
  remove(
    @CurrentTenant() tenant: Tenant,
    @Param('id', uuidPipe) id: string,
  ): Promise<void> {
    return this.connections.remove(tenant, id);
  }
}
