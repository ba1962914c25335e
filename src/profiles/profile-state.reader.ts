import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type {
  MembershipStatus,
  StoredMemberships,
} from '../segments/membership-status.js';
import { realizationsSeen } from '../segments/membership.service.js';
import type { Queryable, TenantRef } from './change-log.js';
import type { IdentityMap, JsonObject } from './profile-merge.js';

export interface MembershipView {
  status: MembershipStatus;
  /** ISO-8601 UTC. */
  lastQualificationTime: string;
}

/** Current state of one profile, as the runner exports it. */
export interface ProfileState {
  profileId: string;
  attributes: JsonObject;
  identityMap: IdentityMap;
  /** Every membership row of the profile (exited ones until purged). */
  memberships: Record<string, MembershipView>;
  createdAt: Date;
  updatedAt: Date;
}

/** Loads current profile state by id, for exports and lookups. */
@Injectable()
export class ProfileStateReader {
  constructor(private readonly dataSource: DataSource) {}

  /** Profiles that no longer exist are omitted; order follows `profileIds`. */
  load(
    tenant: TenantRef,
    profileIds: string[],
    q: Queryable = this.dataSource,
  ): Promise<ProfileState[]> {
    return loadProfileStates(q, tenant, profileIds);
  }
}

export async function loadProfileStates(
  q: Queryable,
  tenant: TenantRef,
  profileIds: string[],
): Promise<ProfileState[]> {
  if (profileIds.length === 0) return [];
  const rows = (await q.query(
    `SELECT id, attributes, identity_map, memberships, created_at, updated_at
       FROM profiles
      WHERE org_id = $1 AND sandbox_name = $2 AND id = ANY($3::uuid[])`,
    [tenant.orgId, tenant.sandboxName, profileIds],
  )) as {
    id: string;
    attributes: JsonObject;
    identity_map: IdentityMap;
    created_at: Date;
    updated_at: Date;
    memberships: StoredMemberships;
  }[];
  const byId = new Map(rows.map((r) => [r.id, r]));
  // `realized` until an export has seen it (CONTRACT A7); exports do not
  // write the row, so that is read from the flows' positions.
  const seen = rows.some((r) =>
    Object.values(r.memberships).some((m) => m[0] === 'realized'),
  )
    ? await realizationsSeen(q, tenant, [...byId.keys()])
    : new Map<string, Set<string>>();
  const out: ProfileState[] = [];
  for (const id of profileIds) {
    const r = byId.get(id);
    if (!r) continue;
    out.push({
      profileId: r.id,
      attributes: r.attributes,
      identityMap: r.identity_map,
      memberships: membershipViews(r.memberships, seen.get(r.id)),
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    });
  }
  return out;
}

/** The stored entries as `{status, lastQualificationTime}`. */
function membershipViews(
  stored: StoredMemberships,
  seen: Set<string> | undefined,
): Record<string, MembershipView> {
  const out: Record<string, MembershipView> = {};
  for (const [segmentId, [status, lastQualificationTime]] of Object.entries(
    stored,
  )) {
    out[segmentId] = {
      status:
        status === 'realized' && seen?.has(segmentId) ? 'existing' : status,
      lastQualificationTime,
    };
  }
  return out;
}
