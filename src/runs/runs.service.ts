import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { notFound } from '../common/errors.js';
import type { ListQueryDto } from '../common/list-query.dto.js';
import { listDocuments } from '../common/listing.js';
import type { Tenant } from '../common/request-context.js';
import { tenantWhere } from '../common/resource.mapper.js';
import type { RunDto, RunListDto } from './dto/run.dto.js';
import { RunEntity } from './run.entity.js';
import { toRunDto } from './run.mapper.js';

const FLOW_ID_FILTER = /^flowId==([0-9a-fA-F-]{36})$/;

@Injectable()
export class RunsService {
  constructor(
    @InjectRepository(RunEntity) private readonly repo: Repository<RunEntity>,
  ) {}

  async list(tenant: Tenant, query: ListQueryDto): Promise<RunListDto> {
    // Runs grow by one per flow per hour, so the usual flowId filter is pushed into SQL.
    const flowIds = (query.property ?? [])
      .map((p) => FLOW_ID_FILTER.exec(p)?.[1])
      .filter((x): x is string => !!x);
    const rows = await this.repo.find({
      where: {
        ...tenantWhere(tenant),
        ...(flowIds.length === 1 ? { flowId: flowIds[0] } : {}),
      },
      order: { hourStart: 'DESC' },
      take: 10_000,
    });
    return listDocuments(
      rows.map((r) => toRunDto(r)),
      query,
      {
        filterable: [
          'id',
          'flowId',
          'state',
          'createdAt',
          'updatedAt',
          'metrics',
          'flowSpec',
        ],
        sortable: ['createdAt', 'updatedAt', 'id', 'state'],
      },
      '/data/foundation/flowservice/runs',
    ) as RunListDto;
  }

  /** The latest run of each flow that has one (for a flow's lastRunDetails). */
  lastRunsOf(flowIds: string[]): Promise<RunEntity[]> {
    if (flowIds.length === 0) return Promise.resolve([]);
    return this.repo
      .createQueryBuilder('r')
      .distinctOn(['r.flow_id'])
      .where('r.flow_id IN (:...flowIds)', { flowIds })
      .orderBy('r.flow_id')
      .addOrderBy('r.hour_start', 'DESC')
      .getMany();
  }

  async get(tenant: Tenant, id: string): Promise<RunDto> {
    const row = await this.repo.findOne({
      where: { id, ...tenantWhere(tenant) },
    });
    if (!row) throw notFound('runs', id);
    return toRunDto(row) as unknown as RunDto;
  }
}
