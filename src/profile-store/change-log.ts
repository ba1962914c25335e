import type { MembershipChange } from '../memberships/transitions.js';
import type { Queryable, TenantRef } from '../database/transaction.js';
import { boolChars, jsonLines } from './json-lines.js';
import {
  type Lane,
  WHOLE,
  hashInLaneBucketsSql,
  hashInLaneSql,
  laneRangeSql,
} from './lanes.js';
import type { IdentityMap, JsonObject } from './profile-data.js';

/**
 * A position in a tenant's change log: the last row a reader has processed,
 * in (tx_id, id) order. The runner keeps one per flow.
 */
export interface ChangePosition {
  /** `tx_id` as text (xid8 is 64-bit). */
  txId: string;
  /** `id` as text (bigserial). */
  id: string;
}

/** The start of every log: before any row. */
export const LOG_START: ChangePosition = { txId: '0', id: '0' };

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

/** A committed row of the change log. */
export interface ProfileChange {
  id: string;
  txId: string;
  profileId: string;
  changedAt: Date;
  /** Dotted leaf attribute paths whose value changed. */
  changedPaths: string[];
  identitiesChanged: boolean;
  membershipChanges: MembershipChange[];
  deleted: boolean;
  snapshot: ProfileSnapshot | null;
}

interface ChangeRow {
  id: string;
  tx_id: string;
  profile_id: string;
  changed_at_ms: number;
  changed_paths: string[];
  identities_changed: boolean;
  membership_changes: StoredMembershipChange[];
  deleted: boolean;
  snapshot: ProfileSnapshot | null;
}

/**
 * Reads a tenant's change log in commit-safe order.
 *
 * Rows are ordered by (tx_id, id). A row is returned only when its tx_id is
 * below the xmin of the reader's snapshot, i.e. every transaction that could
 * still append a smaller (tx_id, id) has finished. So a reader that stores the
 * last returned row as its position never skips a change that commits later
 * (a transaction that started earlier and commits after a younger one), and
 * never sees a change before it is committed.
 */
export async function readChanges(
  q: Queryable,
  tenant: TenantRef,
  after: ChangePosition | null,
  limit: number,
  /** Only the lane's profiles (a reader per lane keeps its own position). */
  lane: Lane = WHOLE,
): Promise<ProfileChange[]> {
  return (await readChangesToHorizon(q, tenant, after, limit, lane)).changes;
}

/**
 * readChanges, and the log's horizon of the same snapshot (see logHorizon):
 * the changes are every one of the lane's below it after `after` (up to
 * `limit`), so a reader whose batch was not full may move to it. One round
 * trip for both.
 */
export async function readChangesToHorizon(
  q: Queryable,
  tenant: TenantRef,
  after: ChangePosition | null,
  limit: number,
  lane: Lane = WHOLE,
): Promise<{ changes: ProfileChange[]; horizon: ChangePosition }> {
  const rows = (await q.query(
    // The time as epoch ms: a number is far cheaper for the driver than its
    // timestamptz parser (paths are stored as jsonb for the same reason).
    // ORDER BY names the table's columns: a bare `tx_id, id` would mean the
    // text-cast output columns, sorting "100000" before "99999" (a cursor
    // past rows never returned) and every remaining row on every read.
    // The horizon row comes first, with the changes (if any) beside it.
    `SELECT h.x::text AS horizon, c.id::text AS id, c.tx_id::text AS tx_id, c.profile_id,
            (extract(epoch FROM c.changed_at) * 1000)::float8 AS changed_at_ms,
            c.changed_paths, c.identities_changed,
            c.membership_changes, c.deleted, c.snapshot
       FROM (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS x) AS h
       LEFT JOIN LATERAL (
         SELECT * FROM profile_changes c
          WHERE c.org_id = $1 AND c.sandbox_name = $2
            AND (c.tx_id, c.id) > ($3::xid8, $4::bigint)
            AND c.tx_id < h.x
            AND ${hashInLaneSql('c.lane_hash', lane.lane, lane.lanes)}
          ORDER BY c.tx_id, c.id
          LIMIT $5) AS c ON true
      ORDER BY c.tx_id, c.id`,
    [
      tenant.orgId,
      tenant.sandboxName,
      after?.txId ?? LOG_START.txId,
      after?.id ?? LOG_START.id,
      Math.max(1, Math.floor(limit)),
    ],
  )) as (ChangeRow & { horizon: string })[];
  const first = rows[0] as { id: string | null; horizon: string } | undefined;
  const horizon = { txId: first?.horizon ?? LOG_START.txId, id: LOG_START.id };
  const changes = first?.id == null ? [] : rows.map(changeOf);
  return { changes, horizon };
}

function changeOf(r: ChangeRow): ProfileChange {
  return {
    id: r.id,
    txId: r.tx_id,
    profileId: r.profile_id,
    changedAt: new Date(r.changed_at_ms),
    changedPaths: r.changed_paths,
    identitiesChanged: r.identities_changed,
    membershipChanges: r.membership_changes.map(([segmentId, from, to]) => ({
      segmentId,
      from,
      to,
    })),
    deleted: r.deleted,
    snapshot: r.snapshot,
  };
}

/**
 * One profile's committed changes after `after`, as readChanges returns
 * them (the export preview: what a reader at `after` has yet to export for
 * that profile). Scans the tenant's log from `after`: for single lookups.
 */
export async function readProfileChanges(
  q: Queryable,
  tenant: TenantRef,
  profileId: string,
  after: ChangePosition,
  limit: number,
): Promise<ProfileChange[]> {
  const rows = (await q.query(
    `SELECT c.id::text AS id, c.tx_id::text AS tx_id, c.profile_id,
            (extract(epoch FROM changed_at) * 1000)::float8 AS changed_at_ms,
            changed_paths, identities_changed,
            membership_changes, deleted, snapshot
       FROM profile_changes c
      WHERE c.org_id = $1 AND c.sandbox_name = $2 AND c.profile_id = $6::uuid
        AND (c.tx_id, c.id) > ($3::xid8, $4::bigint)
        AND c.tx_id < pg_snapshot_xmin(pg_current_snapshot())
      ORDER BY c.tx_id, c.id
      LIMIT $5`,
    [
      tenant.orgId,
      tenant.sandboxName,
      after.txId,
      after.id,
      Math.max(1, Math.floor(limit)),
      profileId,
    ],
  )) as ChangeRow[];
  return rows.map(changeOf);
}

/** The change log's horizon now: every change below it has committed. */
export async function logHorizon(q: Queryable): Promise<ChangePosition> {
  const rows = (await q.query(
    `SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS tx`,
  )) as { tx: string }[];
  return { txId: rows[0]?.tx ?? LOG_START.txId, id: LOG_START.id };
}

/**
 * SQL for a statement over another module's table that needs to know
 * whether a tenant has committed changes after a position: the columns are
 * given as expressions (e.g. the runner's cursor columns). Without a lane,
 * one probe of ix_profile_changes_read; with one, a skip scan of
 * ix_profile_changes_lane over the lane's hash buckets, so a caught-up lane
 * costs the same whatever the other lanes have pending.
 */
export function changesAfterSql(c: {
  orgId: string;
  sandboxName: string;
  txId: string;
  changeId: string;
  /** The reader's lane and lane count (see lanes.ts); absent: any profile. */
  lane?: string;
  lanes?: string;
  /** Only changes of transactions below this xid8 expression (e.g. a horizon). */
  below?: string;
}): string {
  return `EXISTS (SELECT 1 FROM profile_changes p
                   WHERE p.org_id = ${c.orgId} AND p.sandbox_name = ${c.sandboxName}
                     AND (p.tx_id, p.id) > (${c.txId}, ${c.changeId})
                     AND ${hashInLaneBucketsSql('p.lane_hash', c.lane ?? 0, c.lanes ?? 1)}
                     ${c.below ? `AND p.tx_id < ${c.below}` : ''})`;
}

/**
 * For each position (per tenant and lane), the time of the first change of
 * the lane after it in change-log order: up to concurrent transactions, the
 * oldest change not yet processed. Null when there is none. Keyed by the
 * caller's `key`.
 */
export async function firstChangeTimesAfter(
  q: Queryable,
  positions: {
    key: string;
    orgId: string;
    sandboxName: string;
    position: ChangePosition;
    lane: Lane;
  }[],
): Promise<Map<string, Date | null>> {
  const out = new Map<string, Date | null>();
  if (positions.length === 0) return out;
  const range = laneRangeSql('k.lane', 'k.lanes');
  const rows = (await q.query(
    // The lane's first change in each of its hash buckets (one descent of
    // ix_profile_changes_lane each), then the first of those: other lanes'
    // pending rows are never read.
    `SELECT k.key, (SELECT x.changed_at
                      FROM generate_series((${range.lo}) >> 8, (${range.hi} - 1) >> 8) AS b(n)
                     CROSS JOIN LATERAL (
                           SELECT p.tx_id, p.id, p.changed_at FROM profile_changes p
                            WHERE p.org_id = k.org AND p.sandbox_name = k.sandbox
                              AND (p.lane_hash >> 8) = b.n
                              AND (p.tx_id, p.id) > (k.tx, k.cid)
                              AND ${hashInLaneSql('p.lane_hash', 'k.lane', 'k.lanes')}
                            ORDER BY p.tx_id, p.id
                            LIMIT 1) x
                     ORDER BY x.tx_id, x.id
                     LIMIT 1) AS changed_at
       FROM unnest($1::text[], $2::text[], $3::text[], $4::xid8[], $5::bigint[], $6::int[], $7::int[])
            AS k(key, org, sandbox, tx, cid, lane, lanes)`,
    [
      positions.map((p) => p.key),
      positions.map((p) => p.orgId),
      positions.map((p) => p.sandboxName),
      positions.map((p) => p.position.txId),
      positions.map((p) => p.position.id),
      positions.map((p) => p.lane.lane),
      positions.map((p) => p.lane.lanes),
    ],
  )) as { key: string; changed_at: Date | null }[];
  for (const r of rows) out.set(r.key, r.changed_at);
  return out;
}

/** A reader's position in its tenant's log, for the purge (a flow's is the minimum over its lanes). */
export interface ReaderPosition {
  orgId: string;
  sandboxName: string;
  position: ChangePosition;
}

/**
 * Deletes change-log rows no reader needs any more: older than
 * `retentionHours` and at or below the position of every reader of their
 * tenant (a tenant with no reader needs none of its rows, and a new reader
 * starts at the horizon, so it never needs older rows). `readers` is asked
 * inside each batch's transaction, just before its delete. In batches, one
 * process at a time; returns how many rows went.
 */
export async function purgeConsumedChanges(
  db: DataSourceLike,
  retentionHours: number,
  readers: (q: Queryable) => Promise<ReaderPosition[]>,
  batch = 10_000,
): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await db.transaction(async (em) => {
      const [lock] = (await em.query(
        `SELECT pg_try_advisory_xact_lock(hashtext('fse_change_log_purge')) AS ok`,
      )) as { ok: boolean }[];
      if (!lock?.ok) return 0;
      const floors = await readers(em);
      const rows = (await em.query(
        // The exits among them have reached every flow: from now on the
        // exited memberships may be purged after the retention period
        // (purgeExitedMemberships reads only exported_exits).
        `WITH gone AS (
           DELETE FROM profile_changes
            WHERE ctid = ANY(ARRAY(
              SELECT c.ctid FROM profile_changes c
               WHERE c.changed_at < now() - make_interval(hours => $1)
                 AND c.tx_id < pg_snapshot_xmin(pg_current_snapshot())
                 AND NOT EXISTS (
                   SELECT 1 FROM unnest($3::text[], $4::text[], $5::xid8[], $6::bigint[])
                          AS k(org, sandbox, tx, cid)
                    WHERE k.org = c.org_id AND k.sandbox = c.sandbox_name
                      AND (k.tx, k.cid) < (c.tx_id, c.id))
               LIMIT $2))
           RETURNING org_id, sandbox_name, profile_id, changed_at, membership_changes, deleted),
         exits AS (
           INSERT INTO exported_exits (org_id, sandbox_name, profile_id, segment_id, exited_at)
           SELECT g.org_id, g.sandbox_name, g.profile_id, mc->>0, max(g.changed_at)
             FROM gone g CROSS JOIN LATERAL jsonb_array_elements(g.membership_changes) mc
            WHERE mc->>2 = 'exited' AND NOT g.deleted
            GROUP BY 1, 2, 3, 4
           ON CONFLICT (org_id, sandbox_name, profile_id, segment_id)
           DO UPDATE SET exited_at = GREATEST(exported_exits.exited_at, EXCLUDED.exited_at))
         SELECT count(*)::int AS n FROM gone`,
        [
          retentionHours,
          batch,
          floors.map((f) => f.orgId),
          floors.map((f) => f.sandboxName),
          floors.map((f) => f.position.txId),
          floors.map((f) => f.position.id),
        ],
      )) as { n: number }[];
      return rows[0]?.n ?? 0;
    });
    total += n;
    if (n < batch) return total;
  }
}

/** What purgeConsumedChanges needs of a DataSource. */
export interface DataSourceLike {
  transaction<T>(fn: (em: Queryable) => Promise<T>): Promise<T>;
}

/**
 * Of `profileIds`, those with a committed or pending change after `after`
 * that enters one of `segmentIds`: a reader resuming at `after` will export
 * them from the change log, so a backfill page leaves them out (one export
 * of that state, not two under different messageIds).
 */
export async function enteringAfter(
  q: Queryable,
  tenant: TenantRef,
  profileIds: string[],
  segmentIds: string[],
  after: ChangePosition,
): Promise<Set<string>> {
  if (profileIds.length === 0 || segmentIds.length === 0) return new Set();
  const rows = (await q.query(
    `SELECT DISTINCT c.profile_id::text AS profile_id
       FROM profile_changes c
      CROSS JOIN LATERAL jsonb_array_elements(c.membership_changes) mc
      WHERE c.org_id = $1 AND c.sandbox_name = $2
        AND (c.tx_id, c.id) > ($4::xid8, $5::bigint)
        AND c.profile_id = ANY($3::uuid[])
        AND mc->>2 = 'realized' AND mc->>0 = ANY($6::text[])`,
    [
      tenant.orgId,
      tenant.sandboxName,
      profileIds,
      after.txId,
      after.id,
      segmentIds,
    ],
  )) as { profile_id: string }[];
  return new Set(rows.map((r) => r.profile_id));
}
