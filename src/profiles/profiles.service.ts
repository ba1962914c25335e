import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { DomainError, ErrorCode, validationFailed } from '../common/errors.js';
import {
  type Queryable,
  type TenantRef,
  withTransaction,
} from '../database/transaction.js';
import { markSeen } from '../memberships/seen.js';
import { exitAll } from '../memberships/transitions.js';
import { appendChanges } from '../profile-store/change-log.js';
import { lookupOwners } from '../profile-store/ingest-writes.js';
import { identityKeyString } from '../profile-store/profile-data.js';
import {
  type ProfileRow,
  deleteProfile,
  lockProfile,
  profileExists,
} from '../profile-store/profile-rows.js';
import {
  type StoredProfileState,
  loadStates,
  realizationsSeen,
} from '../profile-store/profile-state.js';
import { exportPositions } from '../runner/export-positions.js';
import type { EntityQueryDto } from './dto/entity-query.dto.js';
import type {
  ProfileDeletedDto,
  ProfileEntityDto,
} from './dto/profile-entity.dto.js';
import { leafPaths } from './profile-merge.js';

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
    const [state] = id ? await this.states(tenant, [id]) : [];
    if (!state) throw profileNotFound(query);
    return { [state.profileId]: toEntityDto(state) };
  }

  /** The profile an identity (or a profile id without `entityIdNS`) names; 404 when none. */
  async profileIdOf(
    tenant: TenantRef,
    query: Pick<EntityQueryDto, 'entityId' | 'entityIdNS'>,
  ): Promise<string> {
    const id = await this.resolve(this.dataSource, tenant, query);
    if (!id) throw profileNotFound(query);
    return id;
  }

  /**
   * Profiles as the lookup reports them: a `realized` membership is
   * `existing` once an export has seen it (memberships/seen.ts), judged
   * against the flows' positions only for profiles that hold one.
   */
  async states(
    tenant: TenantRef,
    profileIds: string[],
  ): Promise<StoredProfileState[]> {
    const states = await loadStates(this.dataSource, tenant, profileIds);
    const anyRealized = states.some((s) =>
      Object.values(s.memberships).some((m) => m.status === 'realized'),
    );
    if (!anyRealized) return states;
    const seen = await realizationsSeen(
      this.dataSource,
      tenant,
      states.map((s) => s.profileId),
      await exportPositions(this.dataSource, tenant),
    );
    for (const s of states) markSeen(s.memberships, seen.get(s.profileId));
    return states;
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
      await deleteProfile(m, tenant, row);
      return { entityId: row.id, deleted: true };
    });
  }

  /** Locks the profile row; re-resolves if a concurrent merge moved the identity meanwhile. */
  private async lockResolved(
    m: Queryable,
    tenant: TenantRef,
    query: EntityQueryDto,
  ): Promise<ProfileRow> {
    for (let round = 0; round < 10; round++) {
      const id = await this.resolve(m, tenant, query);
      if (!id) throw profileNotFound(query);
      const row = await lockProfile(m, tenant, id);
      if (row && (await this.resolve(m, tenant, query)) === id) return row;
    }
    throw profileNotFound(query);
  }

  private async resolve(
    q: Queryable,
    tenant: TenantRef,
    query: Pick<EntityQueryDto, 'entityId' | 'entityIdNS'>,
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
    return profileExists(q, tenant, query.entityId);
  }
}

function profileNotFound(
  query: Pick<EntityQueryDto, 'entityId' | 'entityIdNS'>,
): DomainError {
  const ns = query.entityIdNS ? `, entityIdNS = [${query.entityIdNS}]` : '';
  return new DomainError(
    ErrorCode.NotFound,
    `Profile not found with entityId = [${query.entityId}]${ns}`,
  );
}

/** Adobe's entity shape, with our memberships under `segmentMembership.ups`. */
export function toEntityDto(state: StoredProfileState): ProfileEntityDto {
  const ups: Record<string, { status: string; lastQualificationTime: string }> =
    {};
  for (const [id, m] of Object.entries(state.memberships))
    ups[id] = {
      status: m.status,
      lastQualificationTime: m.lastQualificationTime,
    };
  return {
    entityId: state.profileId,
    sources: ['ups'],
    entity: {
      ...state.attributes,
      identityMap: state.identityMap,
      segmentMembership: { ups },
    },
    lastModifiedAt: state.updatedAt.toISOString(),
  };
}
