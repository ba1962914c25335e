import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { notFound } from '../common/errors.js';
import { ENV, type Env } from '../config/env.js';
import { TenantRowLookup } from '../database/tenant-row-lookup.js';
import type { ListQueryDto } from '../common/list-query.dto.js';
import {
  listRows,
  pageOf,
  specRefFields,
  type SqlListSpec,
} from '../common/sql-listing.js';
import type { Tenant } from '../common/request-context.js';
import type { RunDto, RunListDto } from './dto/run.dto.js';
import { RunEntity } from './run.entity.js';
import {
  runHourStartMsSql,
  runStatusEqualsSql,
  runStatusSql,
  toRunDto,
} from './run.mapper.js';

const STATE_SQL = runStatusSql('e');
const STATE_EQUALS = runStatusEqualsSql('e');

/** `metrics` as toRunDto shows it (durations defaulted, the computed status). */
const METRICS_SQL = `e.metrics || jsonb_build_object(
  'durationSummary', jsonb_build_object(
    'startedAtUTC', coalesce(e.metrics #> '{durationSummary,startedAtUTC}', ${runHourStartMsSql('e')}),
    'completedAtUTC', coalesce(e.metrics #> '{durationSummary,completedAtUTC}', '0'::jsonb)),
  'statusSummary', (CASE WHEN jsonb_typeof(e.metrics -> 'statusSummary') = 'object' THEN e.metrics -> 'statusSummary' ELSE '{}'::jsonb END)
    || jsonb_build_object('status', ${STATE_SQL}))`;

const RUN_LIST: SqlListSpec = {
  fields: {
    id: { type: 'uuid', sql: 'e.id' },
    flowId: { type: 'uuid', sql: 'e.flow_id' },
    state: { type: 'text', sql: STATE_SQL, equals: STATE_EQUALS },
    createdAt: { type: 'epochMs', sql: 'e.created_at' },
    updatedAt: { type: 'epochMs', sql: 'e.updated_at' },
    metrics: { type: 'jsonb', sql: METRICS_SQL },
    // The parts of `metrics` shown as stored, read without building the whole document.
    'metrics.statusSummary.status': {
      type: 'text',
      sql: STATE_SQL,
      equals: STATE_EQUALS,
    },
    'metrics.recordSummary': {
      type: 'jsonb',
      sql: `(e.metrics -> 'recordSummary')`,
    },
    'metrics.sizeSummary': {
      type: 'jsonb',
      sql: `(e.metrics -> 'sizeSummary')`,
    },
    ...specRefFields('flowSpec', 'e.flow_spec_id', "'1.0'"),
  },
  sortable: {
    createdAt: { type: 'epochMs', sql: 'e.created_at' },
    updatedAt: { type: 'epochMs', sql: 'e.updated_at' },
    id: { type: 'uuid', sql: 'e.id' },
    state: { type: 'text', sql: STATE_SQL },
  },
};

@Injectable()
export class RunsService {
  private readonly byId: TenantRowLookup<RunEntity>;

  constructor(
    @InjectRepository(RunEntity) private readonly repo: Repository<RunEntity>,
    @Inject(ENV) env: Env,
  ) {
    this.byId = new TenantRowLookup(
      repo.manager.connection,
      RunEntity,
      env.REQUEST_TIMEOUT_MS,
    );
  }

  async list(tenant: Tenant, query: ListQueryDto): Promise<RunListDto> {
    const qb = this.repo
      .createQueryBuilder('e')
      .where('e.org_id = :org AND e.sandbox_name = :sandbox', {
        org: tenant.orgId,
        sandbox: tenant.sandboxName,
      });
    const result = await listRows(
      qb,
      query,
      RUN_LIST,
      '/data/foundation/flowservice/runs',
    );
    return pageOf(result, (rows) => rows.map((r) => toRunDto(r))) as RunListDto;
  }

  async get(tenant: Tenant, id: string): Promise<RunDto> {
    const row = await this.byId.get(tenant, id);
    if (!row) throw notFound('runs', id);
    return toRunDto(row) as unknown as RunDto;
  }
}
