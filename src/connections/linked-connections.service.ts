import { type EntityManager, In, type Repository } from 'typeorm';
import type { ConnectionSpec } from '../catalog/catalog.data.js';
import type { CreatedDto } from '../common/common.dto.js';
import { DomainError, ErrorCode, notFound } from '../common/errors.js';
import { checkIfMatch, etagOf, newVersion } from '../common/etag.js';
import { applyJsonPatch } from '../common/json-patch.js';
import type { PatchOperationDto } from '../common/patch-operation.dto.js';
import type { ListQueryDto } from '../common/list-query.dto.js';
import { assertMatchesSchema } from '../common/json-schema.js';
import type { References } from '../common/references.js';
import {
  listRows,
  META_FIELDS,
  META_SORTABLE,
  pageOf,
  specRefFields,
  type SqlListSpec,
} from '../common/sql-listing.js';
import type { Tenant } from '../common/request-context.js';
import { metaOf, ownedBy, tenantWhere } from '../common/resource.mapper.js';
import type { TenantScopedEntity } from '../common/tenant-scoped.entity.js';
import { validateAs } from '../common/validation.js';
import { TenantRowLookup } from '../database/tenant-row-lookup.js';
import type { ConnectionEdits } from './connection-edits.js';
import { ConnectionEntity } from './connection.entity.js';
import { resolveConnectionSpec } from './connections.service.js';
import {
  type CreateLinkedConnectionDto,
  type LinkedConnectionDto,
  PatchableLinkedConnectionDto,
} from './dto/linked-connection.dto.js';

/** The columns source and target connection entities share. */
export interface LinkedEntity extends TenantScopedEntity {
  baseConnectionId: string | null;
  connectionSpecId: string;
  connectionSpecVersion: string;
  data: Record<string, unknown>;
  params: Record<string, unknown>;
}

const LINKED_LIST: SqlListSpec = {
  fields: {
    ...META_FIELDS,
    ...specRefFields(
      'connectionSpec',
      'e.connection_spec_id',
      'e.connection_spec_version',
    ),
    baseConnectionId: { type: 'uuid', sql: 'e.base_connection_id' },
    params: { type: 'jsonb', sql: 'e.params' },
    data: {
      type: 'jsonb',
      sql: `jsonb_build_object('format', CASE WHEN jsonb_typeof(e.data -> 'format') = 'string' THEN e.data -> 'format' ELSE '"json"'::jsonb END)`,
    },
  },
  sortable: META_SORTABLE,
};

export interface LinkedKind {
  /** `sourceConnections` or `targetConnections`: the resource name in paths and errors. */
  resource: 'sourceConnections' | 'targetConnections';
  /** The spec part whose JSON Schema validates `params`. */
  paramsSpec: (spec: ConnectionSpec) => Record<string, unknown> | undefined;
}

/**
 * Source and target connections behave the same apart from which part of the
 * spec validates their params, so one implementation serves both resources.
 */
export class LinkedConnectionsService<E extends LinkedEntity> {
  private readonly byId: TenantRowLookup<E>;

  constructor(
    private readonly repo: Repository<E>,
    private readonly kind: LinkedKind,
    private readonly references: References,
    /** REQUEST_TIMEOUT_MS: the bound of a batch of lookups by id. */
    requestTimeoutMs: number,
    /** Told of edits (target connections: flows publishing through them retry at once). */
    private readonly edits?: ConnectionEdits,
  ) {
    this.byId = new TenantRowLookup(
      repo.manager.connection,
      repo.target,
      requestTimeoutMs,
    );
    references.register(
      kind.resource,
      'connections',
      async (em, tenant, baseId) => {
        const rows = await em.find(repo.target, {
          where: { baseConnectionId: baseId, ...tenantWhere(tenant) } as never,
        });
        return rows.map((r) => ({
          resource: kind.resource,
          id: r.id,
          params: r.params,
        }));
      },
    );
  }

  async create(
    tenant: Tenant,
    dto: CreateLinkedConnectionDto,
  ): Promise<CreatedDto> {
    const spec = resolveConnectionSpec(dto.connectionSpec);
    if (!this.kind.paramsSpec(spec)) {
      throw new DomainError(
        ErrorCode.InvalidSpec,
        `Connection spec ${spec.id} cannot be used for ${this.kind.resource}.`,
      );
    }
    const params = this.checkParams(spec, dto.params ?? {});
    return this.repo.manager.transaction(async (em) => {
      if (dto.baseConnectionId) {
        await this.checkBase(em, tenant, dto.baseConnectionId, spec.id);
      } else if (spec.authSpec.length > 0) {
        throw new DomainError(
          ErrorCode.ValidationFailed,
          'baseConnectionId is required for this connection spec.',
          [
            {
              path: 'baseConnectionId',
              message: 'baseConnectionId is required',
            },
          ],
        );
      }
      const version = newVersion();
      const entity = em.create(this.repo.target, {
        ...ownedBy(tenant),
        name: dto.name,
        description: dto.description ?? null,
        state: 'enabled',
        version,
        baseConnectionId: dto.baseConnectionId ?? null,
        connectionSpecId: spec.id,
        connectionSpecVersion: spec.version,
        data: { format: (dto.data?.format ?? 'json').toLowerCase() },
        params,
      } as unknown as E);
      const saved = await em.save(entity);
      return { id: saved.id, etag: etagOf(version) };
    });
  }

  async get(tenant: Tenant, id: string): Promise<LinkedConnectionDto> {
    const row = await this.byId.get(tenant, id);
    if (!row) throw notFound(this.kind.resource, id);
    return this.toDto(row);
  }

  async list(tenant: Tenant, query: ListQueryDto): Promise<unknown> {
    const qb = this.repo
      .createQueryBuilder('e')
      .where('e.org_id = :org AND e.sandbox_name = :sandbox', {
        org: tenant.orgId,
        sandbox: tenant.sandboxName,
      });
    const result = await listRows(
      qb,
      query,
      LINKED_LIST,
      `/data/foundation/flowservice/${this.kind.resource}`,
    );
    return pageOf(result, (rows) => rows.map((r) => this.toDto(r)));
  }

  async patch(
    tenant: Tenant,
    id: string,
    ifMatch: string | undefined,
    ops: PatchOperationDto[],
  ): Promise<CreatedDto> {
    return this.repo.manager.transaction(async (em) => {
      const row = await em.findOne(this.repo.target, {
        where: { id, ...tenantWhere(tenant) } as never,
        lock: { mode: 'pessimistic_write' },
      });
      if (!row) throw notFound(this.kind.resource, id);
      checkIfMatch(ifMatch, row.version);
      const spec = resolveConnectionSpec({
        id: row.connectionSpecId,
        version: row.connectionSpecVersion,
      });
      const patched = applyJsonPatch(
        {
          name: row.name,
          description: row.description ?? '',
          params: row.params,
        },
        ops,
        {
          allowed: ['/name', '/description', '/params'],
          readOnly: {
            '/connectionSpec': new DomainError(
              ErrorCode.SpecNotUpdatable,
              'The connection spec of a connection cannot be updated.',
            ),
          },
        },
      );
      const doc = validateAs(PatchableLinkedConnectionDto, patched);
      const params = this.checkParams(spec, doc.params);
      const version = newVersion();
      await em.update(
        this.repo.target,
        { id: row.id } as never,
        {
          name: doc.name,
          description: doc.description ?? null,
          params,
          version,
          updatedBy: `${tenant.clientId}@AdobeID`,
          updatedClient: tenant.clientId,
        } as never,
      );
      await this.edits?.edited(em, row.id, 'target');
      return { id: row.id, etag: etagOf(version) };
    });
  }

  async remove(tenant: Tenant, id: string): Promise<void> {
    await this.repo.manager.transaction(async (em) => {
      const row = await em.findOne(this.repo.target, {
        where: { id, ...tenantWhere(tenant) } as never,
        lock: { mode: 'pessimistic_write' },
      });
      if (!row) throw notFound(this.kind.resource, id);
      const flows = await this.references.of(
        em,
        tenant,
        this.kind.resource,
        id,
      );
      if (flows.length) {
        throw new DomainError(
          ErrorCode.ConnectionInUse,
          `The ${this.kind.resource === 'sourceConnections' ? 'source' : 'target'} connection with the ID ${id} cannot be deleted because it is being used in one or more flows (${flows.map((f) => f.id).join(', ')}).`,
        );
      }
      await em.delete(this.repo.target, { id } as never);
    });
  }

  /**
   * The rows of `ids` that exist, locked FOR SHARE until `em`'s transaction
   * ends, for a create that will refer to them: a delete of one of them
   * (which locks it FOR UPDATE before looking for referrers) either finished
   * before, so the row is missing here, or waits and then sees the referrer.
   * Share locks do not conflict with each other, and every writer of these
   * rows (patch, delete) locks one row only, so no lock order is needed.
   */
  async holdByIds(
    em: EntityManager,
    tenant: Tenant,
    ids: string[],
  ): Promise<E[]> {
    if (ids.length === 0) return [];
    return em.find(this.repo.target, {
      where: { id: In(ids), ...tenantWhere(tenant) } as never,
      lock: { mode: 'pessimistic_read' },
    });
  }

  toDto(row: E): LinkedConnectionDto {
    const base = row.baseConnectionId
      ? {
          baseConnection: {
            id: row.baseConnectionId,
            connectionSpec: {
              id: row.connectionSpecId,
              version: row.connectionSpecVersion,
            },
          },
        }
      : {};
    return {
      ...(metaOf(row) as Omit<
        LinkedConnectionDto,
        'data' | 'connectionSpec' | 'params' | 'inheritedAttributes'
      >),
      ...(row.baseConnectionId
        ? { baseConnectionId: row.baseConnectionId }
        : {}),
      data: {
        format: typeof row.data.format === 'string' ? row.data.format : 'json',
      },
      connectionSpec: {
        id: row.connectionSpecId,
        version: row.connectionSpecVersion,
      },
      params: row.params,
      ...(this.kind.resource === 'sourceConnections'
        ? { typeInfo: { type: 'ProfileFragments', id: 'ups' } }
        : {}),
      inheritedAttributes: base,
    };
  }

  private async checkBase(
    em: EntityManager,
    tenant: Tenant,
    baseId: string,
    specId: string,
  ): Promise<void> {
    // FOR SHARE: a concurrent delete of the base connection waits for this
    // transaction (and then sees the new row and refuses), or this read waits
    // for the delete (and then finds no row): never both.
    const base = await em.findOne(ConnectionEntity, {
      where: { id: baseId, ...tenantWhere(tenant) },
      lock: { mode: 'pessimistic_read' },
    });
    if (!base) throw notFound('connections', baseId);
    if (base.connectionSpecId !== specId) {
      throw new DomainError(
        ErrorCode.InvalidSpec,
        `The base connection ${baseId} uses connection spec ${base.connectionSpecId}, not ${specId}.`,
      );
    }
  }

  private checkParams(
    spec: ConnectionSpec,
    params: Record<string, unknown>,
  ): Record<string, unknown> {
    const schema = this.kind.paramsSpec(spec);
    if (!schema) return params;
    assertMatchesSchema(schema, params, 'params');
    return params;
  }
}
