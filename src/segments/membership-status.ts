/** A profile's status in one segment (CONTRACT A7). */
export type MembershipStatus = 'realized' | 'existing' | 'exited';

/**
 * How a profile row stores its memberships (`profiles.memberships`):
 * segment id → [status, time of the evaluation that set it (ISO-8601 UTC,
 * milliseconds)]. One jsonb value per profile instead of a row per
 * (profile, segment): ingestion writes ~10 memberships per new profile.
 */
export type StoredMembership = [MembershipStatus, string];
export type StoredMemberships = Record<string, StoredMembership>;

/** `realized` or `existing`: a current member. */
export function isActive(m: StoredMembership | undefined): boolean {
  return m !== undefined && (m[0] === 'realized' || m[0] === 'existing');
}
