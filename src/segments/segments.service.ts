import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import {
  DataSource,
  type EntityManager,
  In,
  QueryFailedError,
  Repository,
} from 'typeorm';
import {
  DomainError,
  ErrorCode,
  notFound,
  validationFailed,
} from '../common/errors.js';
import type { Tenant } from '../common/request-context.js';
import { ENV, type Env } from '../config/env.js';
import type { TenantRef } from '../database/transaction.js';
import { removeSegmentMemberships } from '../profile-store/membership-writes.js';
import type {
  CreateSegmentDefinitionDto,
  ListSegmentDefinitionsQueryDto,
  SegmentDefinitionListDto,
  SegmentDefinitionResponseDto,
  SegmentDeletedDto,
} from './dto/segment-definition.dto.js';
import {
  PqlError,
  type PqlLimits,
  isTimeRelative,
  parsePql,
} from './pql/index.js';
import { SegmentDefinitionEntity } from './segment-definition.entity.js';
import { SegmentJobsService } from './segment-jobs.service.js';
import { toSegmentDto } from './segment.mapper.js';

const PROFILE_SCHEMA = '_xdm.context.profile';
const SORT_COLUMNS: Record<string, keyof SegmentDefinitionEntity> = {
  name: 'name',
  creationTime: 'createdAt',
  updateTime: 'updatedAt',
};

/** Names and times of segments, for the runner's includeSegmentNames/Timestamps. */
export interface SegmentSummary {
  id: string;
  name: string;
  description: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** Segment definitions CRUD (CONTRACT A7, B §5.1). */
@Injectable()
export class SegmentsService {
  constructor(
    private readonly dataSource: DataSource,
    @InjectRepository(SegmentDefinitionEntity)
    private readonly segments: Repository<SegmentDefinitionEntity>,
    private readonly jobs: SegmentJobsService,
    @Inject(ENV) private readonly env: Env,
  ) {}

  private get limits(): PqlLimits {
    return {
      maxTextLength: this.env.PQL_MAX_TEXT_LENGTH,
      maxNodes: this.env.PQL_MAX_NODES,
      maxArrayItems: this.env.PQL_MAX_ARRAY_ITEMS,
      maxPatternLength: this.env.PQL_MAX_PATTERN_LENGTH,
      maxPatternSize: this.env.PQL_MAX_PATTERN_SIZE,
    };
  }

  /** Creates the definition and queues its evaluation over existing profiles. */
  async create(
    tenant: Tenant,
    dto: CreateSegmentDefinitionDto,
  ): Promise<SegmentDefinitionResponseDto> {
    const timeRelative = checkExpression(dto.expression.value, this.limits);
    const saved = await this.guardName(dto.name, () =>
      this.dataSource.transaction(async (m) => {
        await this.assertNameFree(m, tenant, dto.name);
        await this.assertBelowSandboxLimit(m, tenant);
        const entity = m.create(SegmentDefinitionEntity, {
          orgId: tenant.orgId,
          sandboxName: tenant.sandboxName,
          sandboxId: tenant.sandboxId,
          ...fields(dto),
          timeRelative,
          expressionVersion: 1,
          createdBy: tenant.clientId,
          updatedBy: tenant.clientId,
        });
        const row = await m.save(entity);
        await this.jobs.enqueue(m, tenant, row.id, 1, 'evaluate');
        return row;
      }),
    );
    return this.withJob(tenant, saved);
  }

  async list(
    tenant: Tenant,
    query: ListSegmentDefinitionsQueryDto,
  ): Promise<SegmentDefinitionListDto> {
    const start = query.start ?? 0;
    const limit = query.limit ?? 20;
    const [sortField, sort] = (query.sort ?? 'creationTime:desc').split(
      ':',
    ) as [string, 'asc' | 'desc'];
    const column = SORT_COLUMNS[sortField] ?? 'createdAt';
    const [rows, total] = await this.segments.findAndCount({
      where: { orgId: tenant.orgId, sandboxName: tenant.sandboxName },
      order: { [column]: sort.toUpperCase(), id: 'ASC' },
      skip: start,
      take: limit,
    });
    const jobs = await this.jobs.latest(
      tenant,
      rows.map((r) => r.id),
    );
    const next = start + rows.length < total;
    return {
      segments: rows.map((r) => toSegmentDto(r, tenant, jobs.get(r.id))),
      page: {
        totalCount: total,
        totalPages: Math.ceil(total / limit),
        sortField,
        sort,
        pageSize: rows.length,
        limit,
      },
      link: next
        ? {
            next: `/data/core/ups/segment/definitions?start=${start + limit}&limit=${limit}&sort=${sortField}:${sort}`,
          }
        : {},
    };
  }

  async get(tenant: Tenant, id: string): Promise<SegmentDefinitionResponseDto> {
    return this.withJob(
      tenant,
      await this.find(this.dataSource.manager, tenant, id),
    );
  }

  /**
   * Full overwrite (Adobe's PATCH). A changed expression bumps the version,
   * cancels unfinished evaluations and queues a new one.
   */
  async update(
    tenant: Tenant,
    id: string,
    dto: CreateSegmentDefinitionDto,
  ): Promise<SegmentDefinitionResponseDto> {
    const timeRelative = checkExpression(dto.expression.value, this.limits);
    const saved = await this.guardName(dto.name, () =>
      this.dataSource.transaction(async (m) => {
        const row = await this.find(m, tenant, id, true);
        if (row.name !== dto.name)
          await this.assertNameFree(m, tenant, dto.name);
        const expressionChanged = row.expression.value !== dto.expression.value;
        Object.assign(row, fields(dto), {
          timeRelative,
          updatedBy: tenant.clientId,
          expressionVersion:
            row.expressionVersion + (expressionChanged ? 1 : 0),
        });
        const updated = await m.save(row);
        if (expressionChanged) {
          await this.jobs.enqueue(
            m,
            tenant,
            row.id,
            updated.expressionVersion,
            'evaluate',
          );
        }
        return updated;
      }),
    );
    return this.withJob(tenant, saved);
  }

  /**
   * Deletes a definition unless a flow of the sandbox selects it (400, as
   * Adobe refuses to delete a segment used in an activation). Its memberships
   * go with it: no flow exports them, so no change rows are needed.
   */
  async delete(tenant: Tenant, id: string): Promise<SegmentDeletedDto> {
    await this.dataSource.transaction(async (m) => {
      const row = await this.find(m, tenant, id, true);
      const used = (await m.query(
        `SELECT id FROM flows
          WHERE org_id = $1 AND sandbox_name = $2
            AND jsonb_path_exists(transformations,
                  '$[*].params.segmentSelectors.selectors[*].value.id ? (@ == $id)',
                  jsonb_build_object('id', $3::text))
          LIMIT 1`,
        [tenant.orgId, tenant.sandboxName, row.id],
      )) as { id: string }[];
      if (used[0]) {
        throw new DomainError(
          ErrorCode.InUse,
          `Segment definition ${row.id} is used by flow ${used[0].id} and cannot be deleted.`,
        );
      }
      await m.query(
        `UPDATE segment_jobs SET status = 'cancelled', lease_owner = NULL,
                finished_at = now(), updated_at = now()
          WHERE org_id = $1 AND sandbox_name = $2 AND segment_id = $3
            AND status IN ('queued', 'running')`,
        [tenant.orgId, tenant.sandboxName, row.id],
      );
      await removeSegmentMemberships(m, tenant, row.id);
      await m.delete(SegmentDefinitionEntity, { id: row.id });
    });
    return { status: true, message: `Segment definition ${id} deleted.` };
  }

  /** For the runner: names and created/updated times of the given segments (missing ids omitted). */
  async findByIds(tenant: TenantRef, ids: string[]): Promise<SegmentSummary[]> {
    const valid = ids.filter((id) => /^[0-9a-f-]{36}$/i.test(id));
    if (valid.length === 0) return [];
    const rows = await this.segments.find({
      where: {
        orgId: tenant.orgId,
        sandboxName: tenant.sandboxName,
        id: In(valid),
      },
      order: { createdAt: 'ASC' },
    });
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      description: r.description,
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
    }));
  }

  private async withJob(
    tenant: Tenant,
    row: SegmentDefinitionEntity,
  ): Promise<SegmentDefinitionResponseDto> {
    const jobs = await this.jobs.latest(tenant, [row.id]);
    return toSegmentDto(row, tenant, jobs.get(row.id));
  }

  private async find(
    m: EntityManager,
    tenant: TenantRef,
    id: string,
    lock = false,
  ): Promise<SegmentDefinitionEntity> {
    const row = await m.findOne(SegmentDefinitionEntity, {
      where: { id, orgId: tenant.orgId, sandboxName: tenant.sandboxName },
      ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
    if (!row) throw notFound('Segment definition', id);
    return row;
  }

  private async assertNameFree(
    m: EntityManager,
    tenant: TenantRef,
    name: string,
  ): Promise<void> {
    const taken = await m.exists(SegmentDefinitionEntity, {
      where: { orgId: tenant.orgId, sandboxName: tenant.sandboxName, name },
    });
    if (taken) throw duplicateName(name);
  }

  /**
   * 422 when the sandbox already holds SEGMENTS_MAX_PER_SANDBOX definitions.
   * The transaction lock serialises creates per sandbox, so concurrent ones
   * cannot both pass the count.
   */
  private async assertBelowSandboxLimit(
    m: EntityManager,
    tenant: TenantRef,
  ): Promise<void> {
    await m.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [
      `segment-definitions:${tenant.orgId}:${tenant.sandboxName}`,
    ]);
    const count = await m.count(SegmentDefinitionEntity, {
      where: { orgId: tenant.orgId, sandboxName: tenant.sandboxName },
    });
    const max = this.env.SEGMENTS_MAX_PER_SANDBOX;
    if (count >= max) {
      throw new DomainError(
        ErrorCode.Unprocessable,
        `This sandbox already has ${count} segment definitions; at most ${max} are allowed (SEGMENTS_MAX_PER_SANDBOX). Delete one first.`,
      );
    }
  }

  /** A concurrent create with the same name loses on the unique index: still a 422. */
  private async guardName<T>(name: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (
        err instanceof QueryFailedError &&
        (err.driverError as { code?: string; constraint?: string })
          .constraint === 'uq_segment_definitions_name'
      ) {
        throw duplicateName(name);
      }
      throw err;
    }
  }
}

function duplicateName(name: string): DomainError {
  return new DomainError(
    ErrorCode.Unprocessable,
    `A segment definition named "${name}" already exists in this sandbox; use PATCH to change it.`,
  );
}

/** Parses the PQL; a syntax error or unsupported construct is a 400 naming the position. */
function checkExpression(text: string, limits: PqlLimits): boolean {
  try {
    return isTimeRelative(parsePql(text, { limits }));
  } catch (err) {
    if (!(err instanceof PqlError)) throw err;
    throw validationFailed(
      `An invalid segment definition was posted: ${err.message} (offset ${err.position})`,
      [
        {
          path: 'expression.value',
          message: `${err.reason} at line ${err.line}, column ${err.column}`,
        },
      ],
    );
  }
}

function fields(
  dto: CreateSegmentDefinitionDto,
): Partial<SegmentDefinitionEntity> {
  return {
    name: dto.name,
    description: dto.description ?? null,
    expression: {
      type: dto.expression.type,
      format: dto.expression.format,
      value: dto.expression.value,
    },
    evaluationInfo: dto.evaluationInfo
      ? (JSON.parse(JSON.stringify(dto.evaluationInfo)) as Record<
          string,
          unknown
        >)
      : {
          batch: { enabled: false },
          continuous: { enabled: true },
          synchronous: { enabled: false },
        },
    schemaName: dto.schema?.name ?? PROFILE_SCHEMA,
    profileInstanceId: dto.profileInstanceId ?? 'ups',
    ttlInDays: dto.ttlInDays ?? null,
    mergePolicyId: dto.mergePolicyId ?? null,
    payloadSchema: dto.payloadSchema ?? null,
    dataGovernancePolicy: {
      excludeOptOut: dto.dataGovernancePolicy?.excludeOptOut ?? true,
    },
  };
}
