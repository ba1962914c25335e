import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { type EntityManager, Repository } from 'typeorm';
import { findFlowSpec, type FlowSpec } from '../catalog/catalog.data.js';
import type { CreatedDto } from '../common/common.dto.js';
import {
  DomainError,
  ErrorCode,
  notFound,
  validationFailed,
} from '../common/errors.js';
import { checkIfMatch, etagOf, newVersion } from '../common/etag.js';
import { applyJsonPatch } from '../common/json-patch.js';
import { canonicalJson, JsonText } from '../common/json-text.js';
import type { PatchOperationDto } from '../common/patch-operation.dto.js';
import type { ListQueryDto } from '../common/list-query.dto.js';
import {
  listProjections,
  META_FIELDS,
  META_SORTABLE,
  pageJson,
  specRefFields,
  type SqlField,
  type SqlListSpec,
} from '../common/sql-listing.js';
import type { Tenant } from '../common/request-context.js';
import { ownedBy, tenantWhere } from '../common/resource.mapper.js';
import { validateAs } from '../common/validation.js';
import { References } from '../common/references.js';
import { runSummarySql } from '../runs/run.mapper.js';
import { SourceConnectionsService } from '../source-connections/source-connections.service.js';
import { TargetConnectionsService } from '../target-connections/target-connections.service.js';
import { FlowEntity } from './flow.entity.js';
import type { FlowOperationDto } from './dto/flow-operation.dto.js';
import { FlowOperations } from './flow-operations.js';
import { type CreateFlowDto, PatchableFlowDto } from './dto/flow.dto.js';
import type { TransformationDto } from './dto/transformation.dto.js';

const BASE = '/data/foundation/flowservice/flows';

/**
 * The segment ids a flow maps, lowercased: the expression of the index
 * `ix_flows_segment_ids` (a migration creates it; filters by segment id use it).
 */
export const FLOW_SEGMENT_IDS_SQL = `(lower(jsonb_path_query_array(e.transformations, 'lax $[*]."params"."segmentSelectors"."selectors"[*]."value"."id"')::text)::jsonb)`;

/** A flow's linked connections as `inheritedAttributes` shows them. */
function linkedConnectionsSql(
  table: string,
  column: string,
  extra: string,
): string {
  return `(SELECT coalesce(jsonb_agg(
      CASE WHEN c.id IS NULL THEN jsonb_build_object('id', u.id)
      ELSE jsonb_build_object('id', u.id,
        'connectionSpec', jsonb_build_object('id', c.connection_spec_id, 'version', c.connection_spec_version),
        'params', c.params)
        || CASE WHEN c.base_connection_id IS NULL THEN '{}'::jsonb
           ELSE jsonb_build_object('baseConnection', jsonb_build_object('id', c.base_connection_id,
             'connectionSpec', jsonb_build_object('id', c.connection_spec_id, 'version', c.connection_spec_version))) END
      END || ${extra} ORDER BY u.n), '[]'::jsonb)
    FROM unnest(e.${column}) WITH ORDINALITY AS u(id, n)
    LEFT JOIN ${table} c ON c.id = u.id)`;
}

const FLOW_LIST: SqlListSpec = {
  fields: {
    ...META_FIELDS,
    ...specRefFields('flowSpec', 'e.flow_spec_id', 'e.flow_spec_version'),
    sourceConnectionIds: { type: 'uuid[]', sql: 'e.source_connection_ids' },
    targetConnectionIds: { type: 'uuid[]', sql: 'e.target_connection_ids' },
    transformations: { type: 'jsonb', sql: 'e.transformations' },
    'transformations.params.segmentSelectors.selectors.value.id': {
      type: 'stringSet',
      sql: FLOW_SEGMENT_IDS_SQL,
    },
    lastOperation: { type: 'jsonb', sql: 'e.last_operation' },
    inheritedAttributes: {
      type: 'jsonb',
      sql: `jsonb_build_object(
        'properties', '{"isDestinationFlow": true}'::jsonb,
        'sourceConnections', ${linkedConnectionsSql('source_connections', 'source_connection_ids', `'{"typeInfo": {"type": "ProfileFragments", "id": "ups"}}'::jsonb`)},
        'targetConnections', ${linkedConnectionsSql('target_connections', 'target_connection_ids', `'{}'::jsonb`)})`,
    },
    // Every flow here is a destination flow: no need to build the document for it.
    'inheritedAttributes.properties': {
      type: 'jsonb',
      sql: `'{"isDestinationFlow": true}'::jsonb`,
    },
    lastRunDetails: {
      type: 'jsonb',
      sql: `(SELECT ${runSummarySql('r')}
        FROM runs r WHERE r.flow_id = e.id ORDER BY r.hour_start DESC LIMIT 1)`,
    },
  } satisfies Record<string, SqlField>,
  sortable: META_SORTABLE,
};

/** `typeInfo` of a source connection in a flow's document. */
const SOURCE_TYPE_INFO = `, 'typeInfo', json_build_object('type', 'ProfileFragments', 'id', 'ups')`;

/**
 * One linked connection as a flow's document shows it (json keeps the keys
 * in this order): `u.id` the id the flow holds, `c` its row if any. Another
 * tenant's connection (never linked: a flow's connections are checked at
 * create and patch) would show as its id only.
 */
function linkedDocSql(extra: string, org: string, sandbox: string): string {
  const spec = `json_build_object('id', c.connection_spec_id, 'version', c.connection_spec_version)`;
  return `CASE
      WHEN c.id IS NULL OR c.org_id <> ${org} OR c.sandbox_name <> ${sandbox}
        THEN json_build_object('id', u.id${extra})
      WHEN c.base_connection_id IS NULL THEN json_build_object('id', u.id, 'connectionSpec', ${spec}, 'params', c.params${extra})
      ELSE json_build_object('id', u.id, 'connectionSpec', ${spec},
        'baseConnection', json_build_object('id', c.base_connection_id, 'connectionSpec', ${spec}),
        'params', c.params${extra})
      END`;
}

/** A flow's linked connections of one kind, in its order, joined by primary key. */
function linkedDocsSql(table: string, column: string, extra = ''): string {
  return `(SELECT coalesce(json_agg(${linkedDocSql(extra, 'e.org_id', 'e.sandbox_name')} ORDER BY u.n), '[]'::json)
    FROM unnest(e.${column}) WITH ORDINALITY AS u(id, n)
    LEFT JOIN ${table} c ON c.id = u.id)`;
}

/**
 * The linked connections a page of flows shows, each built once: a page's
 * flows share few connections ($1 the source ids, $2 the target ids, $3 and
 * $4 the tenant). A statement after the page's own, so a connection edited
 * in between shows as edited, as it would on the next request; a flow's
 * connections cannot be deleted while it links them.
 */
const PAGE_LINKED_DOCS_SQL = `
  SELECT 's' AS kind, u.id::text AS id, (${linkedDocSql(SOURCE_TYPE_INFO, '$3', '$4')})::text AS doc
    FROM unnest($1::uuid[]) AS u(id) LEFT JOIN source_connections c ON c.id = u.id
  UNION ALL
  SELECT 't', u.id::text, (${linkedDocSql('', '$3', '$4')})::text
    FROM unnest($2::uuid[]) AS u(id) LEFT JOIN target_connections c ON c.id = u.id`;

const epochMsSql = (column: string): string =>
  `floor(extract(epoch FROM ${column}) * 1000)::bigint`;

/** A string column as a JSON string (PostgreSQL escapes as JSON.stringify does). */
const jsonText = (sql: string): string => `to_json(${sql})::text`;

/**
 * A flow's fields before `inheritedAttributes`, as a JSON object's text.
 * Concatenated text costs PostgreSQL less than json_build_object, which
 * looks up each argument's type on every call; every column here is NOT
 * NULL (or coalesced), so no `||` turns the whole text NULL.
 */
const FLOW_HEAD_SQL = `'{"id":"' || e.id::text
    || '","createdAt":' || ${epochMsSql('e.created_at')}::text
    || ',"updatedAt":' || ${epochMsSql('e.updated_at')}::text
    || ',"createdBy":' || ${jsonText('e.created_by')}
    || ',"updatedBy":' || ${jsonText('e.updated_by')}
    || ',"createdClient":' || ${jsonText('e.created_client')}
    || ',"updatedClient":' || ${jsonText('e.updated_client')}
    || ',"sandboxId":"' || e.sandbox_id::text
    || '","sandboxName":' || ${jsonText('e.sandbox_name')}
    || ',"imsOrgId":' || ${jsonText('e.org_id')}
    || ',"name":' || ${jsonText('e.name')}
    || ',"description":' || ${jsonText(`coalesce(e.description, '')`)}
    || ',"state":' || ${jsonText('e.state')}
    || ',"version":' || ${jsonText(`'"' || e.version || '"'`)}
    || ',"etag":' || ${jsonText(`'"' || e.version || '"'`)}
    || ',"flowSpec":{"id":"' || e.flow_spec_id::text
    || '","version":' || ${jsonText('e.flow_spec_version')}
    || '},"sourceConnectionIds":' || ${jsonText('e.source_connection_ids')}
    || ',"targetConnectionIds":' || ${jsonText('e.target_connection_ids')} || '}'`;

/** A flow's fields after `inheritedAttributes` (`lastRunDetails` comes last, on its own). */
const FLOW_TAIL_SQL = `'{"transformations":' || e.transformations::text
    || ',"runs":"/runs?property=flowId==' || e.id::text
    || '","lastOperation":' || e.last_operation::text || '}'`;

/** `lastRunDetails`; uq_runs_flow_hour serves it: one index probe per flow. */
const LAST_RUN_SQL = `(SELECT ${runSummarySql('r')}
    FROM runs r WHERE r.flow_id = e.id ORDER BY r.hour_start DESC LIMIT 1)::text`;

/**
 * A flow as the API shows it, in parts Node joins (flowJson), built by
 * PostgreSQL in the statement that finds it, linked connections and the last
 * run included. Columns are PostgreSQL's text (the driver does not parse
 * it) and stay text; `lastRunDetails` is a column of its own (absent, not
 * null, when the flow has not run).
 */
const FLOW_COLUMNS = {
  head: FLOW_HEAD_SQL,
  inherited: `json_build_object(
      'properties', json_build_object('isDestinationFlow', true),
      'sourceConnections', ${linkedDocsSql('source_connections', 'source_connection_ids', SOURCE_TYPE_INFO)},
      'targetConnections', ${linkedDocsSql('target_connections', 'target_connection_ids')})::text`,
  tail: FLOW_TAIL_SQL,
  last_run: LAST_RUN_SQL,
};

/**
 * A page of flows: FLOW_COLUMNS with the linked connection ids in place of
 * `inheritedAttributes`. The page's connections are built once each
 * (PAGE_LINKED_DOCS_SQL) rather than once per flow.
 */
const FLOW_PAGE_COLUMNS = {
  head: FLOW_HEAD_SQL,
  tail: FLOW_TAIL_SQL,
  source_ids: `array_to_string(e.source_connection_ids, ',')`,
  target_ids: `array_to_string(e.target_connection_ids, ',')`,
  last_run: LAST_RUN_SQL,
};

/** A flow's JSON from a row of FLOW_COLUMNS or FLOW_PAGE_COLUMNS and its `inheritedAttributes`. */
function flowJson(row: Record<string, unknown>, inherited: string): string {
  const head = canonicalJson(row.head as string);
  const tail = canonicalJson(row.tail as string);
  const doc = `${head.slice(0, -1)},"inheritedAttributes":${inherited},${tail.slice(1)}`;
  return row.last_run === null
    ? doc
    : `${doc.slice(0, -1)},"lastRunDetails":${canonicalJson(row.last_run as string)}}`;
}

const idsOf = (list: unknown): string[] =>
  list === '' ? [] : String(list).split(',');

/** `inheritedAttributes` of a flow of a page (`docs`: kind + id → JSON). */
function pageInherited(
  row: Record<string, unknown>,
  docs: Map<string, string>,
): string {
  const linked = (kind: string, ids: unknown): string =>
    idsOf(ids)
      .map((id) => docs.get(kind + id))
      .join(',');
  return `{"properties":{"isDestinationFlow":true},"sourceConnections":[${linked('s', row.source_ids)}],"targetConnections":[${linked('t', row.target_ids)}]}`;
}

@Injectable()
export class FlowsService {
  constructor(
    @InjectRepository(FlowEntity) private readonly repo: Repository<FlowEntity>,
    private readonly sources: SourceConnectionsService,
    private readonly targets: TargetConnectionsService,
    private readonly operations: FlowOperations,
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
    return this.repo.manager.transaction(async (em) => {
      // The connections stay locked (FOR SHARE) until the flow is stored, so a
      // concurrent delete of one either happened first (404 here) or sees the flow (1418-400).
      await this.checkConnections(
        em,
        tenant,
        spec,
        dto.sourceConnectionIds,
        dto.targetConnectionIds,
      );
      const version = newVersion();
      const now = Date.now();
      const saved = await em.save(
        em.create(FlowEntity, {
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
    });
  }

  async get(tenant: Tenant, id: string): Promise<JsonText> {
    const qb = this.repo
      .createQueryBuilder('e')
      .select(FLOW_COLUMNS.head, 'head')
      .addSelect(FLOW_COLUMNS.inherited, 'inherited')
      .addSelect(FLOW_COLUMNS.tail, 'tail')
      .addSelect(FLOW_COLUMNS.last_run, 'last_run')
      .where('e.id = :id AND e.org_id = :org AND e.sandbox_name = :sandbox', {
        id,
        org: tenant.orgId,
        sandbox: tenant.sandboxName,
      });
    const row = await qb.getRawOne<Record<string, unknown>>();
    if (!row) throw notFound('flows', id);
    const inherited = canonicalJson(row.inherited as string);
    return new JsonText(`{"items":[${flowJson(row, inherited)}]}`);
  }

  async list(
    tenant: Tenant,
    query: ListQueryDto,
  ): Promise<JsonText | { count: number }> {
    const qb = this.repo
      .createQueryBuilder('e')
      .where('e.org_id = :org AND e.sandbox_name = :sandbox', {
        org: tenant.orgId,
        sandbox: tenant.sandboxName,
      });
    const result = await listProjections(
      qb,
      query,
      FLOW_LIST,
      BASE,
      FLOW_PAGE_COLUMNS,
    );
    if ('count' in result) return result;
    const docs = await this.linkedDocs(tenant, result.rows);
    return pageJson(result, (row) => flowJson(row, pageInherited(row, docs)));
  }

  /** The linked connections of a page's flows, by kind (`s`, `t`) + id, as JSON. */
  private async linkedDocs(
    tenant: Tenant,
    rows: Record<string, unknown>[],
  ): Promise<Map<string, string>> {
    const ids = (column: string): string[] => [
      ...new Set(rows.flatMap((r) => idsOf(r[column]))),
    ];
    const docs = new Map<string, string>();
    if (!rows.length) return docs;
    const found = (await this.repo.query(PAGE_LINKED_DOCS_SQL, [
      ids('source_ids'),
      ids('target_ids'),
      tenant.orgId,
      tenant.sandboxName,
    ])) as { kind: string; id: string; doc: string }[];
    for (const d of found) docs.set(d.kind + d.id, canonicalJson(d.doc));
    return docs;
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
          sourceConnectionIds: row.sourceConnectionIds,
          targetConnectionIds: row.targetConnectionIds,
          transformations: row.transformations,
        },
        ops,
        {
          allowed: [
            '/name',
            '/description',
            '/sourceConnectionIds',
            '/targetConnectionIds',
            '/transformations',
          ],
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
      // New connections are checked as at create (they exist, the flow spec
      // takes them) and held FOR SHARE until this commits, so a concurrent
      // delete of one either waits and is refused or wins and this is a 404.
      // A new target starts at the flow's position and gets the mapped
      // segments' members once (the runner's per-target backfill).
      const spec = findFlowSpec(row.flowSpecId);
      if (
        spec &&
        (!sameIds(doc.sourceConnectionIds, row.sourceConnectionIds) ||
          !sameIds(doc.targetConnectionIds, row.targetConnectionIds))
      )
        await this.checkConnections(
          em,
          tenant,
          spec,
          [...new Set(doc.sourceConnectionIds)],
          [...new Set(doc.targetConnectionIds)],
        );
      const version = newVersion();
      await em.update(
        FlowEntity,
        { id: row.id },
        {
          name: doc.name,
          description: doc.description ?? null,
          sourceConnectionIds: [...new Set(doc.sourceConnectionIds)],
          targetConnectionIds: [...new Set(doc.targetConnectionIds)],
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
    runId?: string,
  ): Promise<CreatedDto | FlowOperationDto> {
    const action = (op ?? '').toLowerCase();
    const operation = this.operations.get(action);
    if (operation) return operation(tenant, id, runId ? { runId } : {});
    if (action !== 'enable' && action !== 'disable') {
      throw new DomainError(
        ErrorCode.ActionUnsupported,
        `Unsupported operation ${op ?? '(none)'} received; use op=enable, disable, replay or resync.`,
      );
    }
    if (runId !== undefined)
      throw validationFailed('runId is a parameter of op=replay only', [
        { path: 'runId', message: 'only with op=replay' },
      ]);
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
    em: EntityManager,
    tenant: Tenant,
    spec: FlowSpec,
    sourceIds: string[],
    targetIds: string[],
  ): Promise<void> {
    const sources = await this.sources.holdByIds(em, tenant, sourceIds);
    const targets = await this.targets.holdByIds(em, tenant, targetIds);
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

function sameIds(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}
