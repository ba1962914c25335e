/** A profile's status in one segment (CONTRACT A7). */
export type MembershipStatus = 'realized' | 'existing' | 'exited';

/**
 * How a profile row stores its memberships (`profiles.memberships`):
 * segment id → [status, time of the evaluation that set it (ISO-8601 UTC,
 * milliseconds), and for `realized` the id of the transaction that set it
 * (xid8 as text, the `tx_id` of the change row that announced it)]. One jsonb
 * value per profile instead of a row per (profile, segment): ingestion
 * writes ~10 memberships per new profile, and the tuple is about a third the
 * size of an object.
 *
 * Nothing outside this module indexes the tuple: TypeScript reads it with
 * the accessors below and SQL with `membershipSql`.
 */
export type StoredMembership =
  | readonly [MembershipStatus, string]
  | readonly [MembershipStatus, string, string];
export type StoredMemberships = Record<string, StoredMembership>;

/** Entries written before transaction ids were stored count as seen by any flow. */
export const UNKNOWN_TX = '0';

export function statusOf(m: StoredMembership): MembershipStatus {
  return m[0];
}

/** ISO-8601 UTC with milliseconds: the evaluation that set the status. */
export function qualificationTimeOf(m: StoredMembership): string {
  return m[1];
}

/** For `realized`: the transaction that set it; undefined otherwise. */
export function realizedTxOf(m: StoredMembership): string | undefined {
  return m[0] === 'realized' ? (m[2] ?? UNKNOWN_TX) : undefined;
}

export function storedMembership(
  status: MembershipStatus,
  time: string,
  txId?: string,
): StoredMembership {
  return status === 'realized' && txId !== undefined
    ? [status, time, txId]
    : [status, time];
}

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

/**
 * SQL that reads one stored entry, given an expression that yields it as
 * jsonb (e.g. `s.value` of `jsonb_each(p.memberships) s`).
 */
export const membershipSql = {
  status: (entry: string): string => `(${entry}->>0)`,
  time: (entry: string): string => `(${entry}->>1)`,
  /** The realizing transaction as xid8 (`0` for entries without one). */
  realizedTx: (entry: string): string =>
    `COALESCE(${entry}->>2, '${UNKNOWN_TX}')::xid8`,
  isActive: (entry: string): string =>
    `(${entry}->>0 IN ('realized', 'existing'))`,
  isRealized: (entry: string): string => `(${entry}->>0 = 'realized')`,
  /** Exited before `cutoffParam` (an ISO-8601 text parameter). */
  exitedBefore: (entry: string, cutoffParam: string): string =>
    `(${entry}->>0 = 'exited' AND ${entry}->>1 < ${cutoffParam})`,
};
