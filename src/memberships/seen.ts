import { type MembershipStatus, compareTxIds } from './stored-membership.js';

/**
 * The realized → existing rule (CONTRACT A7), in one place.
 *
 * A membership is `realized` until an export has seen it, and `existing`
 * from then on. Exports do not write profile rows: a `realized` entry keeps
 * the transaction that set it (see StoredMembership), and a flow whose
 * change-log position is past that transaction has exported it. So:
 * - a change export (one flow, one batch) shows `realized` only in its first
 *   export that reaches the qualification: `shownAsExistingInBatch`;
 * - the profile lookup says `existing` once any flow mapping the segment (not
 *   still backfilling it) has passed it: `seenByPositionSql`, evaluated by the
 *   profile store against the flows' positions (`SegmentPosition`);
 * - a backfill shows the lookup's view of the other flows.
 */

/** A membership as exports and lookups see it. */
export interface MembershipState {
  status: MembershipStatus;
  /** ISO-8601 UTC. */
  lastQualificationTime: string;
  /** For `realized`: the transaction that set it (xid8 as text). */
  realizedTx?: string;
}

/**
 * A flow's change-log position, for one segment it maps (and is not
 * backfilling): `(txId, changeId)` is the last change it exported.
 */
export interface SegmentPosition {
  segmentId: string;
  txId: string;
  changeId: string;
}

/**
 * In a change export: true when the flow has already shown this `realized`
 * membership. `from` is the flow's position before the batch; inside the
 * realizing transaction the qualification is ahead only if the profile's
 * first change in the batch (`firstTxInBatch`) is from it (rows are read in
 * transaction order). Each flow decides for itself, so every destination
 * sees the qualification as `realized` once, whichever flow exports first.
 */
export function shownAsExistingInBatch(
  realizedTx: string,
  from: { txId: string },
  firstTxInBatch: string,
): boolean {
  const order = compareTxIds(from.txId, realizedTx);
  return order > 0 || (order === 0 && firstTxInBatch !== realizedTx);
}

/**
 * SQL: the position `(posTx, posChangeId)` has seen a `realized` entry set by
 * `realizedTx`. Equal transactions count only when no change of the profile
 * in that transaction is still ahead of the position: `changeAhead` is the
 * profile store's predicate for that (its tables, its SQL).
 */
export function seenByPositionSql(p: {
  realizedTx: string;
  posTx: string;
  posChangeId: string;
  changeAhead: (tx: string, afterChangeId: string) => string;
}): string {
  return `(${p.posTx} > ${p.realizedTx}
           OR (${p.posTx} = ${p.realizedTx}
               AND NOT ${p.changeAhead(p.realizedTx, p.posChangeId)}))`;
}

/** Shows the `realized` memberships in `seen` as `existing` (in place). */
export function markSeen(
  memberships: Record<string, MembershipState>,
  seen: Iterable<string> | undefined,
): void {
  if (!seen) return;
  for (const id of seen) {
    const m = memberships[id];
    if (m?.status === 'realized') m.status = 'existing';
  }
}
