import {
  Body,
  Controller,
  Delete,
  Get,
  Inject,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import type { Tenant } from '../common/request-context.js';
import { CurrentTenant, PlatformApi } from '../auth/platform-api.decorator.js';
import { ENV, type Env } from '../config/env.js';
import { Draining } from '../lifecycle/draining.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { EntityQueryDto } from './dto/entity-query.dto.js';
import { IngestProfilesDto, IngestResponseDto } from './dto/ingest.dto.js';
import {
  ProfileDeletedDto,
  ProfileEntityDto,
} from './dto/profile-entity.dto.js';
import { ProfileIngestService } from './profile-ingest.service.js';
import { ProfilesService } from './profiles.service.js';

@ApiTags('Profiles')
@PlatformApi()
@Controller('data/core/ups')
export class ProfilesController {
  constructor(
    private readonly ingestion: ProfileIngestService,
    private readonly profiles: ProfilesService,
    private readonly metrics: MetricsService,
    @Inject(ENV) private readonly env: Env,
    private readonly draining: Draining,
  ) {}

  /**
   * Ingest profile fragments: `{"profiles": [...]}` (up to 1,000) or
   * `application/x-ndjson` (one fragment per line). Each record is stored or
   * rejected on its own: 200 when all were stored, 207 when some were rejected,
   * 503 when the server failed part way (`notStored` records, each listed with
   * that reason; the others are stored): send exactly those again. An NDJSON
   * upload cut short by a shutdown answers 503 with `notStoredFrom`: the
   * first record not read; send it and the rest again.
   */
  @Post('ingest/profiles')
  @ApiConsumes('application/json', 'application/x-ndjson')
  @ApiBody({ type: IngestProfilesDto })
  @ApiResponse({ status: 200, type: IngestResponseDto })
  @ApiResponse({ status: 207, type: IngestResponseDto })
  @ApiResponse({ status: 503, type: IngestResponseDto })
  async ingest(
    @CurrentTenant() tenant: Tenant,
    // Typed unknown on purpose: parsed JSON, or nothing for NDJSON (read as a stream).
    @Body() body: unknown,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<IngestResponseDto> {
    const result = isNdjson(req)
      ? await this.ingestion.ingestStream(tenant, req, {
          maxDepth: this.env.BODY_MAX_DEPTH,
          signal: this.draining.signal,
        })
      : await this.ingestion.ingestRequest(tenant, body);
    this.metrics.recordIngest(result.accepted, result.rejected);
    const partial = 'notStoredFrom' in result && result.notStoredFrom;
    // The rest of the body is unread: the connection cannot carry another request.
    if (partial) res.setHeader('Connection', 'close');
    res.status(
      result.notStored > 0 || partial ? 503 : result.rejected > 0 ? 207 : 200,
    );
    return result;
  }

  /** Look up a merged profile by identity (or by profile id), with its segment memberships. */
  @Get('access/entities')
  @ApiResponse({
    status: 200,
    type: ProfileEntityDto,
    description: 'Keyed by profile id.',
  })
  getEntity(
    @CurrentTenant() tenant: Tenant,
    @Query() query: EntityQueryDto,
  ): Promise<Record<string, ProfileEntityDto>> {
    return this.profiles.getEntity(tenant, query);
  }

  /** Delete a profile: it exits every segment (exported as `exited`) and is purged. */
  @Delete('access/entities')
  deleteEntity(
    @CurrentTenant() tenant: Tenant,
    @Query() query: EntityQueryDto,
  ): Promise<ProfileDeletedDto> {
    return this.profiles.deleteEntity(tenant, query);
  }
}

function isNdjson(req: Request): boolean {
  return (req.headers['content-type'] ?? '')
    .toLowerCase()
    .startsWith('application/x-ndjson');
}
