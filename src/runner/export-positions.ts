import type { Queryable, TenantRef } from '../database/transaction.js';
import type { SegmentPosition } from '../memberships/seen.js';

/**
 * How far the tenant's flows have exported, per segment they map: for each
 * segment, the furthest position of a flow mapping it that is not still
 * backfilling it (such a flow has not necessarily reached every member).
 * Deleted flows' cursors count: what they exported was seen. The furthest
 * position decides alone (memberships/seen.ts: a later position has seen
 * everything an earlier one has). `excludeFlowId` leaves one flow out (a
 * backfill asks about the other flows).
 */
export async function exportPositions(
  q: Queryable,
  tenant: TenantRef,
  excludeFlowId: string | null = null,
): Promise<SegmentPosition[]> {
  const rows = (await q.query(
    `SELECT DISTINCT ON (s.seg) s.seg, c.last_tx_id::text AS tx, c.last_change_id::text AS cid
       FROM flow_cursors c
      CROSS JOIN LATERAL jsonb_array_elements_text(c.mapping->'segmentIds') AS s(seg)
      WHERE c.org_id = $1 AND c.sandbox_name = $2
        AND ($3::uuid IS NULL OR c.flow_id <> $3::uuid)
        AND NOT COALESCE(c.backfill->'segmentIds' ? s.seg, false)
      ORDER BY s.seg, c.last_tx_id::xid8 DESC, c.last_change_id DESC`,
    [tenant.orgId, tenant.sandboxName, excludeFlowId],
  )) as { seg: string; tx: string; cid: string }[];
  return rows.map((r) => ({ segmentId: r.seg, txId: r.tx, changeId: r.cid }));
}
