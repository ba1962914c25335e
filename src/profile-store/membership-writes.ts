import type { DataSource } from 'typeorm';
import type { Queryable, TenantRef } from '../database/transaction.js';
import { bumpSegmentsSql } from './content-versions.js';
import { type Lane, laneHash, laneRange } from './lanes.js';
import {
  type StoredMemberships,
  membershipSql,
} from '../memberships/stored-membership.js';

const BEFORE_ANY_ID = '00000000-0000-0000-0000-000000000000';

/**
 * Merges each profile's patch into its stored memberships (entries of other
 * segments are kept). Every patched entry is an entry or an exit, so its
 * segment's content version moves (content-versions.ts). The caller holds
 * the profiles' row locks.
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
    `UPDATE profiles SET memberships = memberships || ($4::jsonb -> id::text),
            content_versions = ${bumpSegmentsSql('content_versions', 'ARRAY(SELECT jsonb_object_keys($4::jsonb -> id::text))')}
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
 * A backfill page: the lane's current members of `segmentIds` after
 * `afterProfileId` in (lane hash, id) order, at most `limit` of them.
 */
export interface MemberWalk {
  segmentIds: string[];
  afterProfileId: string | null;
  limit: number;
  lane: Lane;
}

/**
 * The WHERE … ORDER BY … LIMIT of a backfill page over `profiles p`, its
 * parameters appended to `params`: a range scan of ix_profiles_lane that
 * reads only the lane's profiles, keeping current members, until the page
 * is full — a whole backfill reads each of the tenant's profiles once, in
 * its own lane. The caller selects what it needs of each member
 * (loadBackfillStates), so each member's row is read once.
 */
export function memberWalkSql(
  params: unknown[],
  tenant: TenantRef,
  walk: MemberWalk,
): string {
  const { lo, hi } = laneRange(walk.lane);
  // The nil UUID sorts first and is never a profile id: (lo, nil) is before
  // every profile of the lane.
  const after = walk.afterProfileId
    ? { hash: laneHash(walk.afterProfileId), id: walk.afterProfileId }
    : { hash: lo, id: BEFORE_ANY_ID };
  const $ = (value: unknown): string => {
    params.push(value);
    return `$${params.length}`;
  };
  const org = $(tenant.orgId);
  const sandbox = $(tenant.sandboxName);
  // No `memberships ?| segments` prefilter: PostgreSQL guesses it keeps
  // 0.1 % of the rows, and then scans and sorts the whole lane instead of
  // walking ix_profiles_lane until the page is full.
  // ix_profiles_lane is keyed by the tenant as one expression (see
  // ProfilesLaneKey1765490000000), named here beside the columns.
  return `WHERE (p.org_id || '/' || p.sandbox_name) = (${org} || '/' || ${sandbox})
        AND p.org_id = ${org} AND p.sandbox_name = ${sandbox}
        AND fse_lane_hash(p.id) >= ${$(lo)} AND fse_lane_hash(p.id) < ${$(hi)}
        AND (fse_lane_hash(p.id), p.id) > (${$(after.hash)}::int, ${$(after.id)}::uuid)
        AND EXISTS (SELECT 1 FROM unnest(${$(walk.segmentIds)}::text[]) AS s(id)
                     WHERE ${membershipSql.isActive('p.memberships->s.id')})
      ORDER BY fse_lane_hash(p.id), p.id LIMIT ${$(walk.limit)}`;
}

/**
 * Drops exited memberships older than the retention period whose exit every
 * flow has exported (exported_exits, filled by the change-log purge): a
 * disabled or failing flow holds its exits until it has sent them. Reads
 * only what is due, a page at a time; profile rows are locked in id order
 * (as ingestion locks them). An entry is removed only if it still is that
 * exit (a profile that re-entered, or exited again later, keeps its entry).
 */
export async function purgeExitedMemberships(
  ds: DataSource,
  retentionDays: number,
  page = 1000,
): Promise<number> {
  const cutoff = new Date(Date.now() - retentionDays * 86_400_000);
  const entry = 'p.memberships->d.segment_id';
  const stillThatExit = `${membershipSql.status(entry)} = 'exited'
         AND ${membershipSql.time(entry)}::timestamptz <= d.exited_at`;
  let total = 0;
  for (;;) {
    const [row] = (await ds.transaction(async (em) =>
      em.query(
        `WITH due AS MATERIALIZED (
           SELECT org_id, sandbox_name, profile_id, segment_id, exited_at
             FROM exported_exits
            WHERE exited_at < $1
            ORDER BY exited_at
            LIMIT $2
              FOR UPDATE SKIP LOCKED),
         locked AS (
           SELECT p.id FROM profiles p
            WHERE p.id IN (SELECT profile_id FROM due)
            ORDER BY p.id
              FOR UPDATE),
         purged AS (
           UPDATE profiles p
              SET memberships = p.memberships - ARRAY(
                    SELECT d.segment_id FROM due d
                     WHERE d.profile_id = p.id AND d.org_id = p.org_id
                       AND d.sandbox_name = p.sandbox_name AND ${stillThatExit})
             FROM locked WHERE p.id = locked.id
           RETURNING p.id),
         dequeued AS (
           DELETE FROM exported_exits e USING due d
            WHERE e.org_id = d.org_id AND e.sandbox_name = d.sandbox_name
              AND e.profile_id = d.profile_id AND e.segment_id = d.segment_id
           RETURNING 1)
         SELECT (SELECT count(*) FROM due)::int AS seen,
                (SELECT count(*) FROM due d JOIN profiles p ON p.id = d.profile_id
                  WHERE d.org_id = p.org_id AND d.sandbox_name = p.sandbox_name
                    AND ${stillThatExit})::int AS n,
                (SELECT count(*) FROM purged)::int AS touched,
                (SELECT count(*) FROM dequeued)::int AS dequeued`,
        [cutoff, page],
      ),
    )) as { seen: number; n: number }[];
    total += row?.n ?? 0;
    if ((row?.seen ?? 0) < page) return total;
  }
}
