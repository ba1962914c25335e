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
  ApiQuery,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { CreatedDto } from '../common/common.dto.js';
import { PatchOperationDto } from '../common/patch-operation.dto.js';
import { jsonBody } from '../common/json-text.js';
import { ListQueryDto } from '../common/list-query.dto.js';
import { patchPipe, singleQueryPipe, uuidPipe } from '../common/pipes.js';
import type { Tenant } from '../common/request-context.js';
import { CurrentTenant, PlatformApi } from '../auth/platform-api.decorator.js';
import { CreateFlowDto, FlowListDto } from './dto/flow.dto.js';
import { FlowsService } from './flows.service.js';
import { FlowOperationDto } from './dto/flow-operation.dto.js';
import { Idempotent } from '../idempotency/idempotent.decorator.js';

const PATH = 'data/foundation/flowservice/flows';

@ApiTags('Flows')
@PlatformApi()
@Controller(PATH)
export class FlowsController {
  constructor(private readonly flows: FlowsService) {}

  /** Create a dataflow from the profile store to an Event Hubs target; it starts enabled. */
  @Post()
  @Idempotent()
  async create(
    @CurrentTenant() tenant: Tenant,
    @Body() body: CreateFlowDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<CreatedDto> {
    const created = await this.flows.create(tenant, body);
    res.location(`/${PATH}/${created.id}`);
    return created;
  }

  /** List dataflows, e.g. `property=transformations[].params.segmentSelectors.selectors[].value.id==<id>`. */
  @Get()
  async list(
    @CurrentTenant() tenant: Tenant,
    @Query() query: ListQueryDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<FlowListDto> {
    return jsonBody(res, await this.flows.list(tenant, query));
  }

  /** Get a dataflow with `inheritedAttributes` and `lastRunDetails`. */
  @Get(':id')
  async get(
    @CurrentTenant() tenant: Tenant,
    @Param('id', uuidPipe) id: string,
    @Res({ passthrough: true }) res: Response,
  ): Promise<FlowListDto> {
    return jsonBody<FlowListDto>(res, await this.flows.get(tenant, id));
  }

  /** Update name, description or transformations (add/remove segments and attributes) with JSON Patch; needs If-Match. */
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
    return this.flows.patch(tenant, id, ifMatchHeader ?? ifMatchQuery, ops);
  }

  /** `op=enable|disable` (case-insensitive): disabling pauses exports, enabling resumes them without loss (200). `op=replay` (optionally `runId`: only that run's records) sends the stored failed and excluded records again from the profiles' current state; `op=resync` sends every current member of the mapped segments again. Each of these starts its own run (202 with its `runId`; messages carry trigger `replay`/`resync`), one at a time per flow (409 while one runs), and never moves the flow's change-log position. */
  @Post(':id/action')
  @HttpCode(200)
  @ApiQuery({ name: 'op', enum: ['enable', 'disable', 'replay', 'resync'] })
  @ApiQuery({ name: 'subOp', required: false, enum: ['APPLY', 'ROLLBACK'] })
  @ApiQuery({
    name: 'runId',
    required: false,
    type: String,
    description: 'op=replay: only the records of this run.',
  })
  @ApiHeader({ name: 'If-Match', required: false })
  @ApiResponse({ status: 200, type: CreatedDto })
  @ApiResponse({
    status: 202,
    type: FlowOperationDto,
    description: 'op=replay or op=resync: the run it started.',
  })
  @ApiResponse({
    status: 409,
    description:
      'A replay or resync of the flow is in progress (1100-409); the message names its run.',
    schema: { $ref: '#/components/schemas/FlowServiceError' },
  })
  async action(
    @CurrentTenant() tenant: Tenant,
    @Param('id', uuidPipe) id: string,
    @Query('op', singleQueryPipe) op: string | undefined,
    @Query('subOp', singleQueryPipe) subOp: string | undefined,
    @Query('runId', singleQueryPipe) runId: string | undefined,
    @Headers('if-match') ifMatch: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ): Promise<CreatedDto | FlowOperationDto> {
    const result = await this.flows.action(
      tenant,
      id,
      op,
      subOp,
      ifMatch,
      runId,
    );
    if ('runId' in result) res.status(202);
    return result;
  }

  /** Delete a dataflow. */
  @Delete(':id')
  @HttpCode(202)
  remove(
    @CurrentTenant() tenant: Tenant,
    @Param('id', uuidPipe) id: string,
  ): Promise<void> {
    return this.flows.remove(tenant, id);
  }
}
