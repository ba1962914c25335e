import type { DataSource } from 'typeorm';
import type { Queryable, TenantRef } from '../database/transaction.js';
import {
  type StoredMemberships,
  membershipSql,
} from '../memberships/stored-membership.js';

/** The nil UUID sorts first and is never a profile id. */
const BEFORE_ANY_ID = '00000000-0000-0000-0000-000000000000';

/**
 * Merges each profile's patch into its stored memberships (entries of other
 * segments are kept). The caller holds the profiles' row locks.
 */
export async function patchMemberships(
  q: Queryable,
  tenant: TenantRef,
  patches: Map<string, StoredMemberships>,
): Promise<void> {
  if (patches.size === 0) return;
  // `id = ANY` probes the primary key whatever the table's statistics;
  // each row then picks its own patch out of one jsonb object.
  await q.query(
    `UPDATE profiles SET memberships = memberships || ($4::jsonb -> id::text)
      WHERE org_id = $1 AND sandbox_name = $2 AND id = ANY($3::uuid[])`,
    [
      tenant.orgId,
      tenant.sandboxName,
      [...patches.keys()],
      JSON.stringify(Object.fromEntries(patches)),
    ],
  );
}

/**
 * Removes a deleted segment's memberships from every profile. Members' rows
 * are locked in id order (as ingestion locks them), so a concurrent ingest
 * waits instead of deadlocking with the delete.
 */
export async function removeSegmentMemberships(
  q: Queryable,
  tenant: TenantRef,
  segmentId: string,
): Promise<void> {
  await q.query(
    `UPDATE profiles p SET memberships = p.memberships - $3::text
       FROM (SELECT id FROM profiles
              WHERE org_id = $1 AND sandbox_name = $2 AND memberships ? $3::text
              ORDER BY id
                FOR UPDATE) l
      WHERE p.id = l.id`,
    [tenant.orgId, tenant.sandboxName, segmentId],
  );
}

/**
 * Next page of current members of the given segments, for a backfill: the
 * tenant's profiles in id order from `afterProfileId` (an index range scan),
 * keeping current members; a page stops at `limit` members, and a whole
 * backfill reads the tenant's profiles once.
 */
export async function membersAfter(
  q: Queryable,
  tenant: TenantRef,
  segmentIds: string[],
  afterProfileId: string | null,
  limit: number,
): Promise<string[]> {
  const rows = (await q.query(
    `SELECT p.id AS profile_id
       FROM profiles p
      WHERE p.org_id = $1 AND p.sandbox_name = $2 AND p.id > $4::uuid
        AND p.memberships ?| $3::text[]
        AND EXISTS (SELECT 1 FROM unnest($3::text[]) AS s(id)
                     WHERE ${membershipSql.isActive('p.memberships->s.id')})
      ORDER BY p.id LIMIT $5`,
    [
      tenant.orgId,
      tenant.sandboxName,
      segmentIds,
      afterProfileId ?? BEFORE_ANY_ID,
      limit,
    ],
  )) as { profile_id: string }[];
  return rows.map((r) => r.profile_id);
}

/**
 * Drops exited memberships older than the retention period from the
 * profiles holding them: pages of profiles in id order (the order ingestion
 * locks in; rows locked by a writer right now are skipped and purged next
 * time), so each pass reads the store once.
 */
export async function purgeExitedMemberships(
  ds: DataSource,
  retentionDays: number,
): Promise<number> {
  const cutoff = new Date(
    Date.now() - retentionDays * 86_400_000,
  ).toISOString();
  const expired = membershipSql.exitedBefore('e.value', '$1');
  let after = BEFORE_ANY_ID;
  let total = 0;
  for (;;) {
    const rows = (await ds.query(
      `WITH page AS MATERIALIZED (
         SELECT id, (SELECT count(*)::int FROM jsonb_each(memberships) e
                      WHERE ${expired}) AS n
           FROM profiles
          WHERE id > $2::uuid
          ORDER BY id LIMIT 5000),
       due AS (
         SELECT p.id FROM profiles p
          WHERE p.id = ANY(ARRAY(SELECT id FROM page WHERE n > 0))
          ORDER BY p.id
            FOR UPDATE SKIP LOCKED),
       purged AS (
         UPDATE profiles p
            SET memberships = (
                  SELECT COALESCE(jsonb_object_agg(e.key, e.value), '{}'::jsonb)
                    FROM jsonb_each(p.memberships) e
                   WHERE NOT ${expired})
           FROM due WHERE p.id = due.id
         RETURNING p.id)
       SELECT (SELECT page.id::text FROM page ORDER BY page.id DESC LIMIT 1) AS last,
              (SELECT count(*)::int FROM page) AS seen,
              (SELECT COALESCE(sum(page.n), 0)::int
                 FROM purged JOIN page USING (id)) AS n`,
      [cutoff, after],
    )) as { last: string | null; seen: number; n: number }[];
    total += rows[0]?.n ?? 0;
    const last = rows[0]?.last;
    if (!last || (rows[0]?.seen ?? 0) < 5000) return total;
    after = last;
  }
}
