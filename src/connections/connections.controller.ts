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
import { ApiBody, ApiHeader, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { CreatedDto } from '../common/common.dto.js';
import { PatchOperationDto } from '../common/patch-operation.dto.js';
import { ListQueryDto } from '../common/list-query.dto.js';
import type { Tenant } from '../common/request-context.js';
import { CurrentTenant, PlatformApi } from '../auth/platform-api.decorator.js';
import { patchPipe, singleQueryPipe, uuidPipe } from '../common/pipes.js';
import { ConnectionsService } from './connections.service.js';
import {
  ConnectionListDto,
  ConnectionTestDto,
  CreateConnectionDto,
} from './dto/connection.dto.js';
import { Idempotent } from '../idempotency/idempotent.decorator.js';

const PATH = 'data/foundation/flowservice/connections';

@ApiTags('Connections')
@PlatformApi()
@Controller(PATH)
export class ConnectionsController {
  constructor(private readonly connections: ConnectionsService) {}

  /** Create a base connection (Event Hubs namespace credentials, or the profile store). */
  @Post()
  @Idempotent()
  async create(
    @CurrentTenant() tenant: Tenant,
    @Body() body: CreateConnectionDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<CreatedDto> {
    const created = await this.connections.create(tenant, body);
    res.location(`/${PATH}/${created.id}`);
    return created;
  }

  /** List base connections. */
  @Get()
  list(
    @CurrentTenant() tenant: Tenant,
    @Query() query: ListQueryDto,
  ): Promise<ConnectionListDto> {
    return this.connections.list(tenant, query) as Promise<ConnectionListDto>;
  }

  /** Get a base connection; secrets are masked. */
  @Get(':id')
  async get(
    @CurrentTenant() tenant: Tenant,
    @Param('id', uuidPipe) id: string,
  ): Promise<ConnectionListDto> {
    return { items: [await this.connections.get(tenant, id)] };
  }

  /** Update name, description or auth params with JSON Patch; needs If-Match. */
  @Patch(':id')
  @ApiHeader({
    name: 'If-Match',
    required: false,
    description:
      'The etag, in double quotes (or the if-match query parameter).',
  })
  @ApiQuery({ name: 'if-match', required: false })
  @ApiBody({ type: [PatchOperationDto] })
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

  /** Delete a base connection; refused (1418-400) while a source/target connection uses it. */
  @Delete(':id')
  @HttpCode(202)
  remove(
    @CurrentTenant() tenant: Tenant,
    @Param('id', uuidPipe) id: string,
  ): Promise<void> {
    return this.connections.remove(tenant, id);
  }

  /** Test the credentials with a real SAS-authenticated call to the namespace. */
  @Get(':id/test')
  test(
    @CurrentTenant() tenant: Tenant,
    @Param('id', uuidPipe) id: string,
  ): Promise<ConnectionTestDto> {
    return this.connections.test(tenant, id);
  }
}
