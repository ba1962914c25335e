import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type {
  MembershipStatus,
  StoredMemberships,
} from '../segments/membership-status.js';
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
  const out: ProfileState[] = [];
  for (const id of profileIds) {
    const r = byId.get(id);
    if (!r) continue;
    out.push({
      profileId: r.id,
      attributes: r.attributes,
      identityMap: r.identity_map,
      memberships: membershipViews(r.memberships),
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    });
  }
  return out;
}

/** The stored `[status, time]` pairs as `{status, lastQualificationTime}`. */
function membershipViews(
  stored: StoredMemberships,
): Record<string, MembershipView> {
  const out: Record<string, MembershipView> = {};
  for (const [segmentId, [status, lastQualificationTime]] of Object.entries(
    stored,
  )) {
    out[segmentId] = { status, lastQualificationTime };
  }
  return out;
}
