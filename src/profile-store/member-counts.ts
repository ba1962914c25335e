import type { DataSource } from 'typeorm';
import { type TenantRef, sqlState } from '../database/transaction.js';
import { membershipSql } from '../memberships/stored-membership.js';

/** Profiles of one segment by stored status. */
export interface StatusCounts {
  realized: number;
  existing: number;
  exited: number;
}

/** Every segment's member counts in one tenant, and its profiles, at one moment. */
export interface MemberCounts {
  totalProfiles: number;
  /** Segment id → counts; a segment no profile has an entry for is absent. */
  bySegment: Map<string, StatusCounts>;
}

/** SQLSTATE of a statement cancelled by `statement_timeout` (or a cancel request). */
const QUERY_CANCELED = '57014';

/**
 * Counts the tenant's profiles by status in every segment: one scan of the
 * tenant's profiles, however many segments it has (each profile's
 * memberships are expanded once). The cost grows with the tenant's store,
 * which the tenant controls, so each statement may run for what is left of
 * `timeoutMs`; past it the answer is undefined rather than an error. One
 * repeatable-read snapshot, so the total and the counts agree.
 */
export async function countMembersBySegment(
  ds: DataSource,
  tenant: TenantRef,
  timeoutMs: number,
): Promise<MemberCounts | undefined> {
  const deadline = Date.now() + timeoutMs;
  const status = membershipSql.status('s.value');
  try {
    return await ds.transaction('REPEATABLE READ', async (m) => {
      const budget = async (): Promise<void> => {
        await m.query(`SELECT set_config('statement_timeout', $1, true)`, [
          String(Math.max(1, deadline - Date.now())),
        ]);
      };
      await budget();
      const [total] = (await m.query(
        `SELECT count(*)::int AS n FROM profiles WHERE org_id = $1 AND sandbox_name = $2`,
        [tenant.orgId, tenant.sandboxName],
      )) as { n: number }[];
      await budget();
      const rows = (await m.query(
        `SELECT s.key AS segment_id,
                count(*) FILTER (WHERE ${status} = 'realized')::int AS realized,
                count(*) FILTER (WHERE ${status} = 'existing')::int AS existing,
                count(*) FILTER (WHERE ${status} = 'exited')::int AS exited
           FROM profiles p, jsonb_each(p.memberships) s
          WHERE p.org_id = $1 AND p.sandbox_name = $2
          GROUP BY s.key`,
        [tenant.orgId, tenant.sandboxName],
      )) as ({ segment_id: string } & StatusCounts)[];
      return {
        totalProfiles: total?.n ?? 0,
        bySegment: new Map(
          rows.map((r) => [
            r.segment_id,
            { realized: r.realized, existing: r.existing, exited: r.exited },
          ]),
        ),
      };
    });
  } catch (err) {
    if (sqlState(err) === QUERY_CANCELED) return undefined;
    throw err;
  }
}
