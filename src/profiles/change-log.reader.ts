import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type {
  MembershipChange,
  ProfileSnapshot,
  Queryable,
  StoredMembershipChange,
  TenantRef,
} from './change-log.js';

/** Position in the change log: the last row a reader has processed. */
export interface ChangeCursor {
  /** `tx_id` as text (xid8 is 64-bit). */
  txId: string;
  /** `id` as text (bigserial). */
  id: string;
}

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
 * last returned row as its cursor never skips a change that commits later
 * (a transaction that started earlier and commits after a younger one), and
 * never sees a change before it is committed.
 */
@Injectable()
export class ChangeLogReader {
  constructor(private readonly dataSource: DataSource) {}

  read(
    tenant: TenantRef,
    after: ChangeCursor | null,
    limit: number,
    q: Queryable = this.dataSource,
  ): Promise<ProfileChange[]> {
    return readChanges(q, tenant, after, limit);
  }
}

/** Same as ChangeLogReader.read, for callers holding a DataSource or EntityManager. */
export async function readChanges(
  q: Queryable,
  tenant: TenantRef,
  after: ChangeCursor | null,
  limit: number,
): Promise<ProfileChange[]> {
  const rows = (await q.query(
    // The time as epoch ms: a number is far cheaper for the driver than its
    // timestamptz parser (paths are stored as jsonb for the same reason).
    // ORDER BY names the table's columns: a bare `tx_id, id` would mean the
    // text-cast output columns, sorting "100000" before "99999" (a cursor
    // past rows never returned) and every remaining row on every read.
    `SELECT c.id::text AS id, c.tx_id::text AS tx_id, c.profile_id,
            (extract(epoch FROM changed_at) * 1000)::float8 AS changed_at_ms,
            changed_paths, identities_changed,
            membership_changes, deleted, snapshot
       FROM profile_changes c
      WHERE c.org_id = $1 AND c.sandbox_name = $2
        AND (c.tx_id, c.id) > ($3::xid8, $4::bigint)
        AND c.tx_id < pg_snapshot_xmin(pg_current_snapshot())
      ORDER BY c.tx_id, c.id
      LIMIT $5`,
    [
      tenant.orgId,
      tenant.sandboxName,
      after?.txId ?? '0',
      after?.id ?? '0',
      Math.max(1, Math.floor(limit)),
    ],
  )) as ChangeRow[];
  return rows.map((r) => ({
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
  }));
}
