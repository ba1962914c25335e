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
  type Type,
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
import { patchPipe, uuidPipe } from '../common/pipes.js';
import type { Tenant } from '../common/request-context.js';
import { CurrentTenant, PlatformApi } from '../common/tenant.decorator.js';
import {
  CreateLinkedConnectionDto,
  LinkedConnectionListDto,
} from './dto/linked-connection.dto.js';
import type { SourceConnectionEntity } from '../source-connections/source-connection.entity.js';
import type { TargetConnectionEntity } from '../target-connections/target-connection.entity.js';
import type { LinkedConnectionsService } from './linked-connections.service.js';

/**
 * Builds the controller of `sourceConnections` or `targetConnections`; the two
 * resources share one contract, so they share one controller definition.
 */
export function linkedConnectionsController(
  resource: 'sourceConnections' | 'targetConnections',
  tag: string,
  serviceClass: Type<unknown>,
): Type<unknown> {
  const path = `data/foundation/flowservice/${resource}`;

  @ApiTags(tag)
  @PlatformApi()
  @Controller(path)
  class LinkedConnectionsController {
    constructor(
      readonly service: LinkedConnectionsService<
        SourceConnectionEntity | TargetConnectionEntity
      >,
    ) {}

    /** Create a connection; returns its id and etag. */
    @Post()
    async create(
      @CurrentTenant() tenant: Tenant,
      @Body() body: CreateLinkedConnectionDto,
      @Res({ passthrough: true }) res: Response,
    ): Promise<CreatedDto> {
      const created = await this.service.create(tenant, body);
      res.location(`/${path}/${created.id}`);
      return created;
    }

    /** List connections with filters, sorting and paging. */
    @Get()
    @ApiOkResponse({ type: LinkedConnectionListDto })
    list(
      @CurrentTenant() tenant: Tenant,
      @Query() query: ListQueryDto,
    ): Promise<LinkedConnectionListDto> {
      return this.service.list(
        tenant,
        query,
      ) as Promise<LinkedConnectionListDto>;
    }

    /** Get one connection as `{items: [...]}`. */
    @Get(':id')
    @ApiOkResponse({ type: LinkedConnectionListDto })
    async get(
      @CurrentTenant() tenant: Tenant,
      @Param('id', uuidPipe) id: string,
    ): Promise<LinkedConnectionListDto> {
      return { items: [await this.service.get(tenant, id)] };
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
      @Query('if-match') ifMatchQuery: string | undefined,
      @Body(patchPipe) ops: PatchOperationDto[],
    ): Promise<CreatedDto> {
      return this.service.patch(tenant, id, ifMatchHeader ?? ifMatchQuery, ops);
    }

    /** Delete a connection; refused while a flow uses it. */
    @Delete(':id')
    @HttpCode(202)
    remove(
      @CurrentTenant() tenant: Tenant,
      @Param('id', uuidPipe) id: string,
    ): Promise<void> {
      return this.service.remove(tenant, id);
    }
  }
  Reflect.defineMetadata(
    'design:paramtypes',
    [serviceClass],
    LinkedConnectionsController,
  );
  Object.defineProperty(LinkedConnectionsController, 'name', {
    value: `${resource[0]?.toUpperCase()}${resource.slice(1)}Controller`,
  });
  return LinkedConnectionsController;
}
