import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { findFlowSpec, type FlowSpec } from '../catalog/catalog.data.js';
import type { CreatedDto } from '../common/common.dto.js';
import { DomainError, ErrorCode, notFound } from '../common/errors.js';
import { checkIfMatch, etagOf, newVersion } from '../common/etag.js';
import { applyJsonPatch } from '../common/json-patch.js';
import type { PatchOperationDto } from '../common/patch-operation.dto.js';
import type { ListQueryDto } from '../common/list-query.dto.js';
import { listDocuments } from '../common/listing.js';
import { References } from '../common/references.js';
import type { Tenant } from '../common/request-context.js';
import { metaOf, ownedBy, tenantWhere } from '../common/resource.mapper.js';
import { validateAs } from '../common/validation.js';
import type { RunEntity } from '../runs/run.entity.js';
import { RunsService } from '../runs/runs.service.js';
import { runSummaryOf } from '../runs/run.mapper.js';
import type { SourceConnectionEntity } from '../source-connections/source-connection.entity.js';
import { SourceConnectionsService } from '../source-connections/source-connections.service.js';
import type { TargetConnectionEntity } from '../target-connections/target-connection.entity.js';
import { TargetConnectionsService } from '../target-connections/target-connections.service.js';
import { FlowEntity } from './flow.entity.js';
import {
  type CreateFlowDto,
  type FlowDto,
  PatchableFlowDto,
} from './dto/flow.dto.js';
import type { TransformationDto } from './dto/transformation.dto.js';

const BASE = '/data/foundation/flowservice/flows';

interface Linked {
  sources: Map<string, SourceConnectionEntity>;
  targets: Map<string, TargetConnectionEntity>;
  lastRuns: Map<string, RunEntity>;
}

@Injectable()
export class FlowsService {
  constructor(
    @InjectRepository(FlowEntity) private readonly repo: Repository<FlowEntity>,
    private readonly sources: SourceConnectionsService,
    private readonly targets: TargetConnectionsService,
    private readonly runs: RunsService,
    references: References,
  ) {
    // Source and target connections refuse deletion while a flow uses them.
    for (const [resource, column] of [
      ['sourceConnections', 'source_connection_ids'],
      ['targetConnections', 'target_connection_ids'],
    ] as const) {
      references.register('flows', resource, async (em, tenant, id) => {
        const flows = await em
          .createQueryBuilder(FlowEntity, 'f')
          .select('f.id', 'id')
          .where('f.org_id = :org AND f.sandbox_name = :sb', {
            org: tenant.orgId,
            sb: tenant.sandboxName,
          })
          .andWhere(`:id = ANY(f.${column})`, { id })
          .getRawMany<{ id: string }>();
        return flows.map((f) => ({ resource: 'flows', id: f.id, params: {} }));
      });
    }
  }

  async create(tenant: Tenant, dto: CreateFlowDto): Promise<CreatedDto> {
    if (dto.state !== undefined) {
      throw new DomainError(
        ErrorCode.StateNotAllowed,
        '`State` is not allowed in the create flow request.',
      );
    }
    if (!dto.flowSpec.version) {
      throw new DomainError(
        ErrorCode.SpecVersionMissing,
        "flowSpec.version 'version' is required for spec info",
      );
    }
    const spec = findFlowSpec(dto.flowSpec.id);
    if (!spec || spec.version !== dto.flowSpec.version) {
      throw new DomainError(
        ErrorCode.InvalidSpec,
        'The spec ID provided is invalid.',
      );
    }
    await this.checkConnections(
      tenant,
      spec,
      dto.sourceConnectionIds,
      dto.targetConnectionIds,
    );
    const version = newVersion();
    const now = Date.now();
    const saved = await this.repo.save(
      this.repo.create({
        ...ownedBy(tenant),
        name: dto.name,
        description: dto.description ?? null,
        state: 'enabled',
        version,
        flowSpecId: spec.id,
        flowSpecVersion: spec.version,
        sourceConnectionIds: dto.sourceConnectionIds,
        targetConnectionIds: dto.targetConnectionIds,
        transformations: normalizeTransformations(dto.transformations),
        lastOperation: { started: now, updated: 0, operation: 'create' },
      }),
    );
    return { id: saved.id, etag: etagOf(version) };
  }

  async get(tenant: Tenant, id: string): Promise<FlowDto> {
    const row = await this.repo.findOne({
      where: { id, ...tenantWhere(tenant) },
    });
    if (!row) throw notFound('flows', id);
    return this.toDto(row, await this.linked(tenant, [row]));
  }

  async list(tenant: Tenant, query: ListQueryDto): Promise<unknown> {
    const rows = await this.repo.find({ where: tenantWhere(tenant) });
    const linked = await this.linked(tenant, rows);
    return listDocuments(
      rows.map((r) => this.toDto(r, linked)),
      query,
      {
        filterable: [
          'id',
          'name',
          'description',
          'flowSpec',
          'state',
          'sourceConnectionIds',
          'targetConnectionIds',
          'createdAt',
          'updatedAt',
          'transformations',
          'inheritedAttributes',
          'lastRunDetails',
          'lastOperation',
        ],
        sortable: ['name', 'createdAt', 'updatedAt', 'id', 'state'],
      },
      BASE,
    );
  }

  async patch(
    tenant: Tenant,
    id: string,
    ifMatch: string | undefined,
    ops: PatchOperationDto[],
  ): Promise<CreatedDto> {
    return this.repo.manager.transaction(async (em) => {
      const row = await em.findOne(FlowEntity, {
        where: { id, ...tenantWhere(tenant) },
        lock: { mode: 'pessimistic_write' },
      });
      if (!row) throw notFound('flows', id);
      checkIfMatch(ifMatch, row.version);
      const readOnly = (field: string): DomainError =>
        new DomainError(
          ErrorCode.PatchInvalid,
          `An error has occurred while validating patch instructions: ${field} is read-only.`,
        );
      const patched = applyJsonPatch(
        {
          name: row.name,
          description: row.description ?? '',
          transformations: row.transformations,
        },
        ops,
        {
          allowed: ['/name', '/description', '/transformations'],
          readOnly: Object.fromEntries(
            [
              '/id',
              '/createdAt',
              '/flowSpec',
              '/state',
              '/etag',
              '/version',
            ].map((p) => [p, readOnly(p.slice(1))]),
          ),
        },
      );
      const doc = validateAs(PatchableFlowDto, patched);
      const version = newVersion();
      await em.update(
        FlowEntity,
        { id: row.id },
        {
          name: doc.name,
          description: doc.description ?? null,
          transformations: normalizeTransformations(
            doc.transformations,
          ) as never,
          version,
          updatedBy: `${tenant.clientId}@AdobeID`,
          updatedClient: tenant.clientId,
          lastOperation: {
            started: Date.now(),
            updated: 0,
            operation: 'update',
          },
        },
      );
      return { id: row.id, etag: etagOf(version) };
    });
  }

  async action(
    tenant: Tenant,
    id: string,
    op: string | undefined,
    subOp: string | undefined,
    ifMatch: string | undefined,
  ): Promise<CreatedDto> {
    const action = (op ?? '').toLowerCase();
    if (action !== 'enable' && action !== 'disable') {
      throw new DomainError(
        ErrorCode.ActionUnsupported,
        `Unsupported operation ${op ?? '(none)'} received; use op=enable or op=disable.`,
      );
    }
    const sub = subOp?.toUpperCase();
    if (sub !== undefined && !['APPLY', 'ROLLBACK'].includes(sub)) {
      throw new DomainError(
        ErrorCode.ActionUnsupported,
        `Unsupported sub operation ${subOp} received for operation ${action}.`,
      );
    }
    return this.repo.manager.transaction(async (em) => {
      const row = await em.findOne(FlowEntity, {
        where: { id, ...tenantWhere(tenant) },
        lock: { mode: 'pessimistic_write' },
      });
      if (!row) throw notFound('flows', id);
      if (ifMatch) checkIfMatch(ifMatch, row.version);
      const target = action === 'enable' ? 'enabled' : 'disabled';
      if (row.state === target) {
        throw new DomainError(
          ErrorCode.ActionNotAllowed,
          `The action ${action} cannot be applied on the current state ${row.state}.`,
        );
      }
      const version = newVersion();
      await em.update(
        FlowEntity,
        { id },
        {
          state: target,
          version,
          updatedBy: `${tenant.clientId}@AdobeID`,
          updatedClient: tenant.clientId,
          lastOperation: { started: Date.now(), updated: 0, operation: action },
        },
      );
      return { id, etag: etagOf(version) };
    });
  }

  async remove(tenant: Tenant, id: string): Promise<void> {
    const result = await this.repo.delete({ id, ...tenantWhere(tenant) });
    if (!result.affected) throw notFound('flows', id);
  }

  private async checkConnections(
    tenant: Tenant,
    spec: FlowSpec,
    sourceIds: string[],
    targetIds: string[],
  ): Promise<void> {
    const sources = await this.sources.findByIds(tenant, sourceIds);
    const targets = await this.targets.findByIds(tenant, targetIds);
    const missingSources = sourceIds.filter(
      (id) => !sources.some((s) => s.id === id),
    );
    if (missingSources.length)
      throw notFound('sourceConnections', missingSources.join(', '));
    const missingTargets = targetIds.filter(
      (id) => !targets.some((t) => t.id === id),
    );
    if (missingTargets.length)
      throw notFound('targetConnections', missingTargets.join(', '));
    for (const s of sources) {
      if (!spec.sourceConnectionSpecIds.includes(s.connectionSpecId)) {
        throw new DomainError(
          ErrorCode.InvalidSpec,
          `Flow spec ${spec.id} does not accept source connection ${s.id} (connection spec ${s.connectionSpecId}).`,
        );
      }
    }
    for (const t of targets) {
      if (!spec.targetConnectionSpecIds.includes(t.connectionSpecId)) {
        throw new DomainError(
          ErrorCode.InvalidSpec,
          `Flow spec ${spec.id} does not accept target connection ${t.id} (connection spec ${t.connectionSpecId}).`,
        );
      }
    }
  }

  private async linked(tenant: Tenant, rows: FlowEntity[]): Promise<Linked> {
    const sourceIds = [...new Set(rows.flatMap((r) => r.sourceConnectionIds))];
    const targetIds = [...new Set(rows.flatMap((r) => r.targetConnectionIds))];
    const flowIds = rows.map((r) => r.id);
    const [sources, targets, lastRuns] = await Promise.all([
      this.sources.findByIds(tenant, sourceIds),
      this.targets.findByIds(tenant, targetIds),
      this.runs.lastRunsOf(flowIds),
    ]);
    return {
      sources: new Map(sources.map((s) => [s.id, s])),
      targets: new Map(targets.map((t) => [t.id, t])),
      lastRuns: new Map(lastRuns.map((r) => [r.flowId, r])),
    };
  }

  private toDto(row: FlowEntity, linked: Linked): FlowDto {
    const conn = (
      c: SourceConnectionEntity | TargetConnectionEntity | undefined,
      id: string,
    ): Record<string, unknown> =>
      c
        ? {
            id,
            connectionSpec: {
              id: c.connectionSpecId,
              version: c.connectionSpecVersion,
            },
            ...(c.baseConnectionId
              ? {
                  baseConnection: {
                    id: c.baseConnectionId,
                    connectionSpec: {
                      id: c.connectionSpecId,
                      version: c.connectionSpecVersion,
                    },
                  },
                }
              : {}),
            params: c.params,
          }
        : { id };
    const lastRun = linked.lastRuns.get(row.id);
    return {
      ...(metaOf(row) as Pick<
        FlowDto,
        'id' | 'name' | 'state' | 'etag' | 'version'
      >),
      flowSpec: { id: row.flowSpecId, version: row.flowSpecVersion },
      sourceConnectionIds: row.sourceConnectionIds,
      targetConnectionIds: row.targetConnectionIds,
      inheritedAttributes: {
        properties: { isDestinationFlow: true },
        sourceConnections: row.sourceConnectionIds.map((id) => ({
          ...conn(linked.sources.get(id), id),
          typeInfo: { type: 'ProfileFragments', id: 'ups' },
        })),
        targetConnections: row.targetConnectionIds.map((id) =>
          conn(linked.targets.get(id), id),
        ),
      },
      transformations: row.transformations as unknown as TransformationDto[],
      runs: `/runs?property=flowId==${row.id}`,
      lastOperation: row.lastOperation,
      ...(lastRun ? { lastRunDetails: runSummaryOf(lastRun) } : {}),
    } as unknown as FlowDto;
  }
}

/** A transformation as plain JSON (what jsonb stores). */
interface PlainTransformation {
  name: string;
  params: {
    profileSelectors?: {
      selectors?: {
        type: string;
        value: { operator?: string } & Record<string, unknown>;
      }[];
    } & Record<string, unknown>;
    segmentSelectors?: {
      selectors?: { type: string; value: Record<string, unknown> }[];
    };
  } & Record<string, unknown>;
}

/** Stores selectors as plain JSON with Adobe's defaults filled in. */
function normalizeTransformations(
  dtos: TransformationDto[],
): Record<string, unknown>[] {
  // Plain copies: validated DTO instances must not carry their classes into jsonb.
  const ts = JSON.parse(JSON.stringify(dtos)) as PlainTransformation[];
  return ts.map((t) => ({
    name: t.name,
    params: {
      ...t.params,
      profileSelectors: {
        ...t.params.profileSelectors,
        selectors: (t.params.profileSelectors?.selectors ?? []).map((s) => ({
          type: s.type,
          value: { ...s.value, operator: s.value.operator ?? 'EXISTS' },
        })),
      },
      segmentSelectors: {
        selectors: (t.params.segmentSelectors?.selectors ?? []).map((s) => ({
          type: s.type,
          value: { ...s.value },
        })),
      },
    },
  })) as unknown as Record<string, unknown>[];
}
