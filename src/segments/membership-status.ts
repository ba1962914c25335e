/** A profile's status in one segment (CONTRACT A7). */
export type MembershipStatus = 'realized' | 'existing' | 'exited';

/**
 * How a profile row stores its memberships (`profiles.memberships`):
 * segment id → [status, time of the evaluation that set it (ISO-8601 UTC,
 * milliseconds), and for `realized` the id of the transaction that set it
 * (xid8 as text, the `tx_id` of the change row that announced it)]. One jsonb
 * value per profile instead of a row per (profile, segment): ingestion
 * writes ~10 memberships per new profile.
 *
 * The transaction id is how a `realized` membership becomes `existing` once
 * an export has seen it, without writing the row again: a flow whose
 * change-log position is past that transaction has exported it (see
 * `seenByPosition` and `realizationsSeen`). Entries written before it was
 * stored have none and count as seen by any flow.
 */
export type StoredMembership =
  [MembershipStatus, string] | [MembershipStatus, string, string];
export type StoredMemberships = Record<string, StoredMembership>;

/** `realized` or `existing`: a current member. */
export function isActive(m: StoredMembership | undefined): boolean {
  return m !== undefined && (m[0] === 'realized' || m[0] === 'existing');
}

/**
 * Orders two xid8 values written as decimal text (no leading zeros), without
 * parsing them: the runner compares one per exported membership.
 */
export function compareTxIds(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
