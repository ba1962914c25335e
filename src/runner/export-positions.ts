import type { Queryable, TenantRef } from '../database/transaction.js';
import type { SegmentPosition } from '../memberships/seen.js';

/**
 * How far the tenant's flows have exported, per segment they map: for each
 * segment, the furthest position of a flow mapping it that is not still
 * backfilling it (such a flow has not necessarily reached every member).
 * A flow's position is its slowest lane's, and it counts for a segment only
 * once every lane maps it and none backfills it. Deleted flows' cursors
 * count: what they exported was seen. The furthest position decides alone
 * (memberships/seen.ts: a later position has seen everything an earlier one
 * has). `excludeFlowId` leaves one flow out (a backfill asks about the other
 * flows).
 */
export async function exportPositions(
  q: Queryable,
  tenant: TenantRef,
  excludeFlowId: string | null = null,
): Promise<SegmentPosition[]> {
  const rows = (await q.query(
    `WITH lanes AS (
       SELECT c.flow_id, c.lanes, s.seg, c.last_tx_id::xid8 AS tx, c.last_change_id AS cid,
              COALESCE(c.backfill->'segmentIds' ? s.seg, false) AS filling
         FROM flow_cursors c
        CROSS JOIN LATERAL jsonb_array_elements_text(c.mapping->'segmentIds') AS s(seg)
        WHERE c.org_id = $1 AND c.sandbox_name = $2
          AND ($3::uuid IS NULL OR c.flow_id <> $3::uuid)),
     flows AS (
       SELECT DISTINCT ON (flow_id, seg) flow_id, seg, tx, cid, lanes,
              count(*) OVER w AS mapped, bool_or(filling) OVER w AS filling
         FROM lanes
       WINDOW w AS (PARTITION BY flow_id, seg)
        ORDER BY flow_id, seg, tx, cid)
     SELECT DISTINCT ON (seg) seg, tx::text AS tx, cid::text AS cid
       FROM flows WHERE mapped = lanes AND NOT filling
      ORDER BY seg, tx DESC, cid DESC`,
    [tenant.orgId, tenant.sandboxName, excludeFlowId],
  )) as { seg: string; tx: string; cid: string }[];
  return rows.map((r) => ({ segmentId: r.seg, txId: r.tx, changeId: r.cid }));
}
