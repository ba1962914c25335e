import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { MembershipStatus } from '../segments/segment-membership.entity.js';
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
    `SELECT p.id, p.attributes, p.identity_map, p.created_at, p.updated_at,
            COALESCE((SELECT jsonb_object_agg(m.segment_id::text, jsonb_build_object(
                        'status', m.status,
                        'lastQualificationTime',
                        to_char(m.last_qualification_time AT TIME ZONE 'UTC',
                                'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))
                        FROM segment_memberships m
                       -- profile_id alone: it selects the primary key even before
                       -- ANALYZE has run (the tenant columns led the planner to scan
                       -- the whole tenant per profile); p is already tenant-scoped.
                       WHERE m.profile_id = p.id),
                     '{}'::jsonb) AS memberships
       FROM profiles p
      WHERE p.org_id = $1 AND p.sandbox_name = $2 AND p.id = ANY($3::uuid[])`,
    [tenant.orgId, tenant.sandboxName, profileIds],
  )) as {
    id: string;
    attributes: JsonObject;
    identity_map: IdentityMap;
    created_at: Date;
    updated_at: Date;
    memberships: Record<string, MembershipView>;
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
      memberships: r.memberships,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    });
  }
  return out;
}
