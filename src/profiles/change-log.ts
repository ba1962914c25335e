import type { EntityManager } from 'typeorm';
import type { Tenant } from '../common/request-context.js';
import type { MembershipStatus } from '../segments/membership-status.js';
import { boolChars, jsonLines } from './json-lines.js';
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
 * How `profile_changes.membership_changes` stores a MembershipChange:
 * `[segmentId, from, to]` (a row per profile can hold one per segment; the
 * array form is about a third smaller than the object).
 */
export type StoredMembershipChange = [
  string,
  MembershipChange['from'],
  MembershipChange['to'],
];

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
  const insert = changeInsert(rows, 3);
  if (!insert) return 0;
  await q.query(insert.sql, [
    tenant.orgId,
    tenant.sandboxName,
    ...insert.params,
  ]);
  return insert.count;
}

/**
 * appendChanges as SQL, for a caller that sends it with other writes in one
 * statement: `$1`/`$2` are the tenant, its own parameters start at `$first`.
 * Null when no row has a change.
 */
export function changeInsert(
  rows: ChangeRowInput[],
  first: number,
): { sql: string; params: string[]; count: number } | null {
  const kept = rows.filter(hasChange);
  if (kept.length === 0) return null;
  // A batch's rows share one Date: format it once, not once per row.
  let lastDate: Date | undefined;
  let lastIso = '';
  const times = kept.map((r) => {
    if (r.changedAt !== lastDate) {
      lastDate = r.changedAt;
      lastIso = lastDate.toISOString();
    }
    return lastIso;
  });
  const $ = (k: number): string => `$${first + k}`;
  return {
    count: kept.length,
    // Rows keep array order: WITH ORDINALITY, then ORDER BY (ids follow it).
    sql: `INSERT INTO profile_changes
       (org_id, sandbox_name, profile_id, changed_at, changed_paths,
        identities_changed, membership_changes, deleted, snapshot)
     SELECT $1, $2, r.p, r.t, r.cp::jsonb, r.ic, r.mc::jsonb, r.d,
            NULLIF(r.s::jsonb, 'null'::jsonb)
       FROM unnest(string_to_array(${$(0)}, ',')::uuid[],
                   string_to_array(${$(1)}, ',')::timestamptz[],
                   string_to_array(${$(2)}, E'\\n'),
                   string_to_array(${$(3)}, NULL)::boolean[],
                   string_to_array(${$(4)}, E'\\n'),
                   string_to_array(${$(5)}, NULL)::boolean[],
                   string_to_array(${$(6)}, E'\\n'))
            WITH ORDINALITY AS r(p, t, cp, ic, mc, d, s, n)
      ORDER BY r.n`,
    params: [
      kept.map((r) => r.profileId).join(','),
      times.join(','),
      jsonLines(kept.map((r) => r.changedPaths)),
      boolChars(kept.map((r) => r.identitiesChanged)),
      jsonLines(
        kept.map((r) =>
          r.membershipChanges.map((c): StoredMembershipChange => [
            c.segmentId,
            c.from,
            c.to,
          ]),
        ),
      ),
      boolChars(kept.map((r) => r.deleted)),
      jsonLines(kept.map((r) => r.snapshot)),
    ],
  };
}
