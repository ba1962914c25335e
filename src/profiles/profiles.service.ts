import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { DomainError, ErrorCode, validationFailed } from '../common/errors.js';
import type { StoredMemberships } from '../segments/membership-status.js';
import { exitAll } from '../segments/membership.service.js';
import { type Queryable, type TenantRef, appendChanges } from './change-log.js';
import type { EntityQueryDto } from './dto/entity-query.dto.js';
import type {
  ProfileDeletedDto,
  ProfileEntityDto,
} from './dto/profile-entity.dto.js';
import { lookupOwners } from './profile-ingest.service.js';
import type { IdentityMap, JsonObject } from './profile-merge.js';
import { identityKeyString, identityKeys, leafPaths } from './profile-merge.js';
import {
  type ProfileState,
  loadProfileStates,
} from './profile-state.reader.js';
import { withTransaction } from './transaction.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Profile lookup and delete (Adobe's `/access/entities`). */
@Injectable()
export class ProfilesService {
  constructor(private readonly dataSource: DataSource) {}

  async getEntity(
    tenant: TenantRef,
    query: EntityQueryDto,
  ): Promise<Record<string, ProfileEntityDto>> {
    const id = await this.resolve(this.dataSource, tenant, query);
    const [state] = id
      ? await loadProfileStates(this.dataSource, tenant, [id])
      : [];
    if (!state) throw profileNotFound(query);
    return { [state.profileId]: toEntityDto(state) };
  }

  /**
   * Deletes the profile: every active membership exits, one change row
   * (`deleted`, with a snapshot of attributes and identityMap) records it
   * for the runner, then the profile, its identities and memberships are
   * purged — all in one transaction.
   */
  async deleteEntity(
    tenant: TenantRef,
    query: EntityQueryDto,
  ): Promise<ProfileDeletedDto> {
    return withTransaction(this.dataSource, async (m) => {
      const row = await this.lockResolved(m, tenant, query);
      await appendChanges(m, tenant, [
        {
          profileId: row.id,
          changedAt: new Date(),
          changedPaths: leafPaths(row.attributes),
          identitiesChanged: true,
          membershipChanges: exitAll(row.memberships),
          deleted: true,
          snapshot: {
            attributes: row.attributes,
            identityMap: row.identity_map,
          },
        },
      ]);
      const params = [tenant.orgId, tenant.sandboxName, row.id];
      // By primary key: the profile owns exactly its identityMap's identities.
      const keys = identityKeys(row.identity_map);
      await m.query(
        `DELETE FROM profile_identities
          WHERE (org_id, sandbox_name, namespace, identity) IN (
                  SELECT $1, $2, k.ns, k.id FROM unnest($4::text[], $5::text[]) AS k(ns, id))
            AND profile_id = $3`,
        [...params, keys.map((k) => k.namespace), keys.map((k) => k.id)],
      );
      await m.query(
        `DELETE FROM profiles WHERE org_id = $1 AND sandbox_name = $2 AND id = $3`,
        params,
      );
      return { entityId: row.id, deleted: true };
    });
  }

  /** Locks the profile row; re-resolves if a concurrent merge moved the identity meanwhile. */
  private async lockResolved(
    m: Queryable,
    tenant: TenantRef,
    query: EntityQueryDto,
  ): Promise<{
    id: string;
    attributes: JsonObject;
    identity_map: IdentityMap;
    memberships: StoredMemberships;
  }> {
    for (let round = 0; round < 10; round++) {
      const id = await this.resolve(m, tenant, query);
      if (!id) throw profileNotFound(query);
      const rows = (await m.query(
        `SELECT id, attributes, identity_map, memberships FROM profiles
          WHERE org_id = $1 AND sandbox_name = $2 AND id = $3 FOR UPDATE`,
        [tenant.orgId, tenant.sandboxName, id],
      )) as {
        id: string;
        attributes: JsonObject;
        identity_map: IdentityMap;
        memberships: StoredMemberships;
      }[];
      if (rows[0] && (await this.resolve(m, tenant, query)) === id)
        return rows[0];
    }
    throw profileNotFound(query);
  }

  private async resolve(
    q: Queryable,
    tenant: TenantRef,
    query: EntityQueryDto,
  ): Promise<string | undefined> {
    if (query.entityIdNS) {
      const key = {
        namespace: query.entityIdNS.toLowerCase(),
        id: query.entityId,
      };
      const owners = await lookupOwners(q, tenant, [key]);
      return owners.get(identityKeyString(key));
    }
    if (!UUID.test(query.entityId)) {
      throw validationFailed(
        'Invalid request: entityIdNS is required unless entityId is a profile id',
        [
          {
            path: 'entityIdNS',
            message: 'entityIdNS is required for an identity value',
          },
        ],
      );
    }
    const rows = (await q.query(
      `SELECT id FROM profiles WHERE org_id = $1 AND sandbox_name = $2 AND id = $3`,
      [tenant.orgId, tenant.sandboxName, query.entityId],
    )) as { id: string }[];
    return rows[0]?.id;
  }
}

function profileNotFound(query: EntityQueryDto): DomainError {
  const ns = query.entityIdNS ? `, entityIdNS = [${query.entityIdNS}]` : '';
  return new DomainError(
    ErrorCode.NotFound,
    `Profile not found with entityId = [${query.entityId}]${ns}`,
  );
}

/** Adobe's entity shape, with our memberships under `segmentMembership.ups`. */
export function toEntityDto(state: ProfileState): ProfileEntityDto {
  return {
    entityId: state.profileId,
    sources: ['ups'],
    entity: {
      ...state.attributes,
      identityMap: state.identityMap,
      segmentMembership: { ups: state.memberships },
    },
    lastModifiedAt: state.updatedAt.toISOString(),
  };
}
