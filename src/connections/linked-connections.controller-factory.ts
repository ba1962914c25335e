import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Inject,
  Param,
  Patch,
  Post,
  Query,
  Res,
  type Type,
} from '@nestjs/common';
import {
  ApiBody,
  ApiCreatedResponse,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentTenant, PlatformApi } from '../auth/platform-api.decorator.js';
import { CreatedDto } from '../common/common.dto.js';
import { ListQueryDto } from '../common/list-query.dto.js';
import { PatchOperationDto } from '../common/patch-operation.dto.js';
import { patchPipe, singleQueryPipe, uuidPipe } from '../common/pipes.js';
import type { Tenant } from '../common/request-context.js';
import {
  CreateLinkedConnectionDto,
  LinkedConnectionListDto,
} from './dto/linked-connection.dto.js';
import type {
  LinkedConnectionsService,
  LinkedEntity,
} from './linked-connections.service.js';
import { Idempotent } from '../idempotency/idempotent.decorator.js';

export interface LinkedResource {
  /** The route, e.g. `data/foundation/flowservice/sourceConnections`. */
  path: string;
  /** The Swagger tag, e.g. `Source connections`. */
  tag: string;
  /** The resource in summaries, e.g. `source connection`. */
  noun: string;
  /** The service (a LinkedConnectionsService) the handlers call. */
  service: Type<LinkedConnectionsService<LinkedEntity>>;
}

/**
 * The routes of a linked-connection resource (source or target connections):
 * one implementation, made per resource so each gets its own path, tag and
 * summaries. Subclass the result and name it (`SourceConnectionsController`):
 * the class name is the OpenAPI operationId prefix.
 *
 * The Swagger metadata is written out here rather than inferred: the
 * @nestjs/swagger plugin only reads `*.controller.ts` files, and its metadata
 * is keyed by exported class name, which a class made in a function has not.
 */
export function linkedConnectionsController(
  resource: LinkedResource,
): Type<object> {
  const { path, noun } = resource;

  @ApiTags(resource.tag)
  @PlatformApi()
  @Controller(path)
  class LinkedConnectionsController {
    constructor(
      @Inject(resource.service)
      private readonly connections: LinkedConnectionsService<LinkedEntity>,
    ) {}

    @Post()
    @Idempotent()
    @ApiOperation({ summary: `Create a ${noun}; returns its id and etag.` })
    @ApiCreatedResponse({ type: CreatedDto })
    async create(
      @CurrentTenant() tenant: Tenant,
      @Body() body: CreateLinkedConnectionDto,
      @Res({ passthrough: true }) res: Response,
    ): Promise<CreatedDto> {
      const created = await this.connections.create(tenant, body);
      res.location(`/${path}/${created.id}`);
      return created;
    }

    @Get()
    @ApiOperation({
      summary: `List ${noun}s with filters, sorting and paging.`,
    })
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

    @Get(':id')
    @ApiOperation({ summary: `Get one ${noun} as \`{items: [...]}\`.` })
    @ApiOkResponse({ type: LinkedConnectionListDto })
    async get(
      @CurrentTenant() tenant: Tenant,
      @Param('id', uuidPipe) id: string,
    ): Promise<LinkedConnectionListDto> {
      return { items: [await this.connections.get(tenant, id)] };
    }

    @Patch(':id')
    @ApiOperation({
      summary:
        'Update name, description or params with JSON Patch; needs If-Match.',
    })
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

    @Delete(':id')
    @HttpCode(202)
    @ApiOperation({
      summary: `Delete a ${noun}; refused while a flow uses it.`,
    })
    @ApiResponse({ status: 202, description: '' })
    remove(
      @CurrentTenant() tenant: Tenant,
      @Param('id', uuidPipe) id: string,
    ): Promise<void> {
      return this.connections.remove(tenant, id);
    }
  }
  return LinkedConnectionsController;
}
