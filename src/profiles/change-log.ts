import type { EntityManager } from 'typeorm';
import type { Tenant } from '../common/request-context.js';
import type { MembershipStatus } from '../segments/membership-status.js';
import type { IdentityMap, JsonObject } from './profile-merge.js';

/** Anything that runs SQL: a DataSource or a transaction's EntityManager. */
export type Queryable = Pick<EntityManager, 'query'>;

/** The part of a tenant that scopes profile data. */
export type TenantRef = Pick<Tenant, 'orgId' | 'sandboxName'>;

/** One entry of `profile_changes.membership_changes`: entering or leaving only. */
export interface MembershipChange {
  segmentId: string;
  from: MembershipStatus | null;
  to: 'realized' | 'exited';
}

/**
 * `profile_changes.snapshot`: the profile as it was, for rows whose profile
 * row no longer exists (deleted, or absorbed by a merge into `mergedInto`).
 */
export interface ProfileSnapshot {
  attributes: JsonObject;
  identityMap: IdentityMap;
  mergedInto?: string;
}

/** A row to append to the change log (tenant and tx id are added by the writer). */
export interface ChangeRowInput {
  profileId: string;
  changedAt: Date;
  changedPaths: string[];
  identitiesChanged: boolean;
  membershipChanges: MembershipChange[];
  deleted: boolean;
  snapshot: ProfileSnapshot | null;
}

export function hasChange(row: ChangeRowInput): boolean {
  return (
    row.deleted ||
    row.identitiesChanged ||
    row.changedPaths.length > 0 ||
    row.membershipChanges.length > 0
  );
}

/**
 * Appends change rows in one statement, in array order (ids follow it). Rows
 * with nothing changed are skipped: the log only carries real changes. Must be
 * called inside the transaction that made the changes, so the row commits
 * (and becomes visible to readers) exactly when they do.
 */
export async function appendChanges(
  q: Queryable,
  tenant: TenantRef,
  rows: ChangeRowInput[],
): Promise<number> {
  const kept = rows.filter(hasChange);
  if (kept.length === 0) return 0;
  // A batch's rows share one Date: format it once, not once per row.
  let lastDate: Date | undefined;
  let lastIso = '';
  const iso = (d: Date): string => {
    if (d !== lastDate) {
      lastDate = d;
      lastIso = d.toISOString();
    }
    return lastIso;
  };
  const payload = kept.map((r, seq) => ({
    seq,
    profile_id: r.profileId,
    changed_at: iso(r.changedAt),
    changed_paths: r.changedPaths,
    identities_changed: r.identitiesChanged,
    membership_changes: r.membershipChanges,
    deleted: r.deleted,
    snapshot: r.snapshot,
  }));
  await q.query(
    `INSERT INTO profile_changes
       (org_id, sandbox_name, profile_id, changed_at, changed_paths,
        identities_changed, membership_changes, deleted, snapshot)
     SELECT $1, $2, r.profile_id, r.changed_at,
            r.changed_paths, r.identities_changed, r.membership_changes, r.deleted,
            NULLIF(r.snapshot, 'null'::jsonb)
       FROM jsonb_to_recordset($3::jsonb) AS r(
              seq int, profile_id uuid, changed_at timestamptz,
              changed_paths jsonb, identities_changed boolean,
              membership_changes jsonb, deleted boolean, snapshot jsonb)
      ORDER BY r.seq`,
    [tenant.orgId, tenant.sandboxName, JSON.stringify(payload)],
  );
  return kept.length;
}
