import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { DataSource, In, Repository } from 'typeorm';
import { notFound } from '../common/errors.js';
import { ENV, type Env } from '../config/env.js';
import type { TenantRef } from '../database/transaction.js';
import {
  type MemberCounts,
  countMembersBySegment,
} from '../profile-store/member-counts.js';
import { CountCache } from './count-cache.js';
import type { SegmentMetricsDto } from './dto/segment-metrics.dto.js';
import { SegmentDefinitionEntity } from './segment-definition.entity.js';
import { toMetricsDto } from './segment.mapper.js';

/** A sandbox's counts are reused for at least ten times as long as counting took. */
const COST_FACTOR = 10;
/** Sandboxes whose counts one process keeps (each up to SEGMENTS_MAX_PER_SANDBOX entries). */
const MAX_SANDBOXES = 1000;

/**
 * Member counts of segment definitions. Counting scans the sandbox's
 * profiles, so one count serves every definition of the sandbox and every
 * request for a while (`CountCache`), and is cut off at
 * SEGMENT_COUNT_TIMEOUT_MS.
 */
@Injectable()
export class SegmentMetricsService {
  private readonly counts: CountCache<MemberCounts>;

  constructor(
    private readonly dataSource: DataSource,
    @InjectRepository(SegmentDefinitionEntity)
    private readonly segments: Repository<SegmentDefinitionEntity>,
    @Inject(ENV) private readonly env: Env,
  ) {
    this.counts = new CountCache({
      freshMs: env.SEGMENT_COUNT_CACHE_MS,
      costFactor: COST_FACTOR,
      timeoutMs: env.SEGMENT_COUNT_TIMEOUT_MS,
      maxEntries: MAX_SANDBOXES,
    });
  }

  /** One definition's counts; 404 when it is not a definition of the sandbox. */
  async forDefinition(
    tenant: TenantRef,
    id: string,
  ): Promise<SegmentMetricsDto> {
    const exists = await this.segments.existsBy({
      id,
      orgId: tenant.orgId,
      sandboxName: tenant.sandboxName,
    });
    if (!exists) throw notFound('Segment definition', id);
    return this.metricsOf(tenant, [id]);
  }

  /** Counts of the given definitions; ids of no definition of the sandbox are left out. */
  async forDefinitions(
    tenant: TenantRef,
    ids: string[],
  ): Promise<SegmentMetricsDto> {
    const rows = await this.segments.find({
      select: { id: true },
      where: {
        orgId: tenant.orgId,
        sandboxName: tenant.sandboxName,
        id: In([...new Set(ids.map((id) => id.toLowerCase()))]),
      },
    });
    return this.metricsOf(
      tenant,
      rows.map((r) => r.id),
    );
  }

  private async metricsOf(
    tenant: TenantRef,
    ids: string[],
  ): Promise<SegmentMetricsDto> {
    const answer = await this.counts.get(
      `${tenant.orgId}\u0000${tenant.sandboxName}`,
      () =>
        countMembersBySegment(
          this.dataSource,
          tenant,
          this.env.SEGMENT_COUNT_TIMEOUT_MS,
        ),
    );
    return toMetricsDto(answer, ids);
  }
}
