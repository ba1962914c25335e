import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { DataSource, In, Repository } from 'typeorm';
import {
  CONNECTION_SPECS,
  type ConnectionSpec,
  EVENT_HUBS_SPEC_ID,
  findConnectionSpec,
  secretFields,
} from '../catalog/catalog.data.js';
import { DomainError, ErrorCode, notFound } from '../common/errors.js';
import { checkIfMatch, etagOf, newVersion } from '../common/etag.js';
import { applyJsonPatch } from '../common/json-patch.js';
import type { PatchOperationDto } from '../common/patch-operation.dto.js';
import type { ListQueryDto } from '../common/list-query.dto.js';
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
import { assertMatchesSchema } from '../common/json-schema.js';
import { References } from '../common/references.js';
import { SecretBox } from '../common/secret-box.js';
import { validateAs } from '../common/validation.js';
import { EventHubsProbe } from '../event-hubs/event-hubs-probe.js';
import {
  type EndpointPolicy,
  type EventHubsCredentials,
  resolveNamespace,
} from '../event-hubs/endpoint.js';
import { ENV, type Env, endpointPolicy } from '../config/env.js';
import { TenantRowLookup } from '../database/tenant-row-lookup.js';
import { ConnectionEdits } from './connection-edits.js';
import { ConnectionEntity } from './connection.entity.js';
import {
  type ConnectionDto,
  type ConnectionTestDto,
  type CreateConnectionDto,
  PatchableConnectionDto,
} from './dto/connection.dto.js';
import type { CreatedDto } from '../common/common.dto.js';

const MASK = '********';
const BASE = '/data/foundation/flowservice/connections';

/** `auth` as the response shows it: secret params masked, absent without an auth spec. */
function authSql(): string {
  const masks = CONNECTION_SPECS.flatMap((spec) =>
    spec.authSpec.map((a) => ({
      spec: spec.id,
      name: a.name.replace(/'/g, "''"),
      masked: JSON.stringify(
        Object.fromEntries(secretFields(a).map((k) => [k, MASK])),
      ),
    })),
  );
  const mask = `CASE ${masks
    .map(
      (m) =>
        `WHEN e.connection_spec_id = '${m.spec}' AND e.auth_spec_name = '${m.name}' THEN '${m.masked}'::jsonb`,
    )
    .join(' ')} ELSE '{}'::jsonb END`;
  return `CASE WHEN e.auth_spec_name IS NULL THEN NULL ELSE jsonb_build_object('specName', e.auth_spec_name, 'params', e.auth_params || CASE WHEN e.auth_secrets IS NULL THEN '{}'::jsonb ELSE ${mask} END) END`;
}

const CONNECTION_LIST: SqlListSpec = {
  fields: {
    ...META_FIELDS,
    ...specRefFields(
      'connectionSpec',
      'e.connection_spec_id',
      'e.connection_spec_version',
    ),
    auth: { type: 'jsonb', sql: authSql() },
  },
  sortable: META_SORTABLE,
};

/** Checks a spec reference: unknown id → 1413-400, unknown version → 1413-400. */
export function resolveConnectionSpec(ref: {
  id: string;
  version: string;
}): ConnectionSpec {
  if (!ref.version) {
    throw new DomainError(
      ErrorCode.SpecVersionMissing,
      "connectionSpec.version 'version' is required for spec info",
    );
  }
  const spec = findConnectionSpec(ref.id);
  if (!spec)
    throw new DomainError(
      ErrorCode.InvalidSpec,
      'Please provide a valid spec id',
    );
  if (ref.version !== spec.version) {
    throw new DomainError(
      ErrorCode.InvalidSpec,
      `Spec version ${ref.version} does not exist for spec ${spec.id}; use ${spec.version}.`,
    );
  }
  return spec;
}

@Injectable()
export class ConnectionsService {
  private readonly endpoints: EndpointPolicy;
  private readonly byId: TenantRowLookup<ConnectionEntity>;

  constructor(
    @InjectRepository(ConnectionEntity)
    private readonly repo: Repository<ConnectionEntity>,
    private readonly references: References,
    private readonly secretBox: SecretBox,
    private readonly probe: EventHubsProbe,
    private readonly edits: ConnectionEdits,
    dataSource: DataSource,
    @Inject(ENV) env: Env,
  ) {
    this.endpoints = endpointPolicy(env);
    this.byId = new TenantRowLookup(
      dataSource,
      ConnectionEntity,
      env.REQUEST_TIMEOUT_MS,
    );
  }

  async create(tenant: Tenant, dto: CreateConnectionDto): Promise<CreatedDto> {
    const spec = resolveConnectionSpec(dto.connectionSpec);
    const auth = this.checkAuth(spec, dto.auth);
    const version = newVersion();
    const saved = await this.repo.save(
      this.repo.create({
        ...ownedBy(tenant),
        name: dto.name,
        description: dto.description ?? null,
        state: 'enabled',
        version,
        connectionSpecId: spec.id,
        connectionSpecVersion: spec.version,
        ...auth,
      }),
    );
    return { id: saved.id, etag: etagOf(version) };
  }

  async get(tenant: Tenant, id: string): Promise<ConnectionDto> {
    return this.toDto(await this.load(tenant, id));
  }

  async list(tenant: Tenant, query: ListQueryDto): Promise<unknown> {
    const qb = this.repo
      .createQueryBuilder('e')
      .where('e.org_id = :org AND e.sandbox_name = :sandbox', {
        org: tenant.orgId,
        sandbox: tenant.sandboxName,
      });
    const result = await listRows(qb, query, CONNECTION_LIST, BASE);
    return pageOf(result, (rows) => rows.map((r) => this.toDto(r)));
  }

  async patch(
    tenant: Tenant,
    id: string,
    ifMatch: string | undefined,
    ops: PatchOperationDto[],
  ): Promise<CreatedDto> {
    return this.repo.manager.transaction(async (em) => {
      const row = await em.findOne(ConnectionEntity, {
        where: { id, ...tenantWhere(tenant) },
        lock: { mode: 'pessimistic_write' },
      });
      if (!row) throw notFound('connections', id);
      checkIfMatch(ifMatch, row.version);
      const spec = resolveConnectionSpec({
        id: row.connectionSpecId,
        version: row.connectionSpecVersion,
      });
      const current = this.toDto(row);
      const patched = applyJsonPatch(
        {
          name: current.name,
          description: current.description,
          ...(current.auth ? { auth: current.auth } : {}),
        },
        ops,
        {
          allowed: ['/name', '/description', '/auth/params'],
          readOnly: {
            '/connectionSpec': new DomainError(
              ErrorCode.SpecNotUpdatable,
              'The connection spec of a connection cannot be updated.',
            ),
            '/auth/specName': new DomainError(
              ErrorCode.SpecNotUpdatable,
              'The auth spec of a connection cannot be changed after creation.',
            ),
          },
        },
      );
      const doc = validateAs(PatchableConnectionDto, patched);
      // Masked secrets left in place by the patch keep their stored value.
      let auth: Partial<
        Pick<ConnectionEntity, 'authSpecName' | 'authParams' | 'authSecrets'>
      > = {};
      if (doc.auth) {
        const previous = row.authSecrets
          ? this.secretBox.open<Record<string, unknown>>(row.authSecrets)
          : {};
        const params = { ...doc.auth.params };
        for (const [k, v] of Object.entries(params)) {
          if (v === MASK && k in previous) params[k] = previous[k];
        }
        auth = this.checkAuth(spec, { specName: doc.auth.specName, params });
      }
      const version = newVersion();
      await em.update(
        ConnectionEntity,
        { id: row.id },
        {
          name: doc.name,
          description: doc.description ?? null,
          version,
          updatedBy: `${tenant.clientId}@AdobeID`,
          updatedClient: tenant.clientId,
          ...(auth as object),
        },
      );
      await this.edits.edited(em, row.id, 'base');
      return { id: row.id, etag: etagOf(version) };
    });
  }

  async remove(tenant: Tenant, id: string): Promise<void> {
    await this.repo.manager.transaction(async (em) => {
      const row = await em.findOne(ConnectionEntity, {
        where: { id, ...tenantWhere(tenant) },
        lock: { mode: 'pessimistic_write' },
      });
      if (!row) throw notFound('connections', id);
      const linked = await this.references.of(em, tenant, 'connections', id);
      // Flows reach a base connection only through source/target connections.
      if (linked.length > 0) {
        throw new DomainError(
          ErrorCode.ConnectionInUse,
          `The base connection with the ID ${id} cannot be deleted because the base connection is being used in one or more flows or source/target connections (${linked.map((l) => l.id).join(', ')}).`,
        );
      }
      await em.delete(ConnectionEntity, { id });
    });
  }

  async test(tenant: Tenant, id: string): Promise<ConnectionTestDto> {
    const row = await this.load(tenant, id);
    if (row.connectionSpecId !== EVENT_HUBS_SPEC_ID) return { result: true };
    const creds = this.credentialsOf(row);
    const targets = await this.references.of(
      this.repo.manager,
      tenant,
      'connections',
      id,
    );
    const hubs = [
      ...new Set([
        ...targets
          .filter((t) => t.resource === 'targetConnections')
          .map((t) => t.params.eventHubName)
          .filter((h): h is string => typeof h === 'string'),
        ...(typeof row.authParams.eventHubName === 'string'
          ? [row.authParams.eventHubName]
          : []),
      ]),
    ];
    if (hubs.length === 0) {
      return {
        result: false,
        reason:
          'No event hub to test: create a target connection with params.eventHubName, or set auth.params.eventHubName.',
      };
    }
    for (const hub of hubs) {
      const r = await this.probe.probe(creds, hub);
      if (!r.result) return r;
    }
    return { result: true };
  }

  /** Decrypted Event Hubs credentials of a base connection, for the runner. */
  credentialsOf(row: ConnectionEntity): EventHubsCredentials {
    const secrets = row.authSecrets
      ? this.secretBox.open<Record<string, unknown>>(row.authSecrets)
      : {};
    const all = { ...row.authParams, ...secrets };
    const text = (v: unknown): string => (typeof v === 'string' ? v : '');
    return {
      namespace: text(all.namespace),
      sasKeyName: text(all.sasKeyName),
      sasKey: text(all.sasKey),
    };
  }

  async findByIds(tenant: Tenant, ids: string[]): Promise<ConnectionEntity[]> {
    if (ids.length === 0) return [];
    return this.repo.find({ where: { id: In(ids), ...tenantWhere(tenant) } });
  }

  private async load(tenant: Tenant, id: string): Promise<ConnectionEntity> {
    const row = await this.byId.get(tenant, id);
    if (!row) throw notFound('connections', id);
    return row;
  }

  private checkAuth(
    spec: ConnectionSpec,
    auth: { specName: string; params: Record<string, unknown> } | undefined,
  ): Pick<ConnectionEntity, 'authSpecName' | 'authParams' | 'authSecrets'> {
    if (spec.authSpec.length === 0) {
      if (auth)
        throw new DomainError(
          ErrorCode.ValidationFailed,
          `Connection spec ${spec.id} takes no auth.`,
          [
            {
              path: 'auth',
              message: 'must be omitted for this connection spec',
            },
          ],
        );
      return { authSpecName: null, authParams: {}, authSecrets: null };
    }
    if (!auth) {
      throw new DomainError(
        ErrorCode.ValidationFailed,
        'auth is required for this connection spec.',
        [{ path: 'auth', message: 'auth is required' }],
      );
    }
    const authSpec = spec.authSpec.find((a) => a.name === auth.specName);
    if (!authSpec) {
      throw new DomainError(
        ErrorCode.AuthSpecNotFound,
        `The auth spec '${auth.specName}' could not be found for the connection spec ID ${spec.id}.`,
      );
    }
    assertMatchesSchema(authSpec.spec, auth.params, 'auth.params');
    if (spec.id === EVENT_HUBS_SPEC_ID) this.checkNamespace(auth.params);
    const secretKeys = secretFields(authSpec);
    const plain: Record<string, unknown> = {};
    const secret: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(auth.params))
      (secretKeys.includes(k) ? secret : plain)[k] = v;
    return {
      authSpecName: authSpec.name,
      authParams: plain,
      authSecrets: Object.keys(secret).length
        ? this.secretBox.seal(secret)
        : null,
    };
  }

  /** Decided before anything connects: a namespace names Event Hubs, never an arbitrary host. */
  private checkNamespace(params: Record<string, unknown>): void {
    const namespace = params.namespace;
    if (typeof namespace !== 'string') return;
    const resolved = resolveNamespace(namespace, this.endpoints);
    if (resolved.ok) return;
    throw new DomainError(
      ErrorCode.ValidationFailed,
      `Invalid request: auth.params.namespace ${resolved.reason}.`,
      [{ path: 'auth.params.namespace', message: resolved.reason }],
    );
  }

  toDto(row: ConnectionEntity): ConnectionDto {
    const spec = findConnectionSpec(row.connectionSpecId);
    const secretKeys = spec?.authSpec.find((a) => a.name === row.authSpecName);
    const masked: Record<string, unknown> = { ...row.authParams };
    for (const k of secretKeys ? secretFields(secretKeys) : [])
      if (row.authSecrets) masked[k] = MASK;
    return {
      ...(metaOf(row) as Omit<ConnectionDto, 'connectionSpec' | 'auth'>),
      connectionSpec: {
        id: row.connectionSpecId,
        version: row.connectionSpecVersion,
      },
      ...(row.authSpecName
        ? { auth: { specName: row.authSpecName, params: masked } }
        : {}),
    };
  }
}
