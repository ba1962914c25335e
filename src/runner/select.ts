import type { ProfileChange } from '../profile-store/change-log.js';
import type { ProfileState } from '../profile-store/profile-state.js';
import type { MembershipState } from '../memberships/seen.js';
import { type FlowMapping, triggersOf } from './mapping.js';

/** A profile a step exports (CONTRACT A8), and why. */
export interface Candidate {
  profileId: string;
  /** Seeds the messageId: the same export retried gets the same id. */
  exportKey: string;
  triggers: Set<string>;
  /** Mapped segments the profile left in this batch (exported once as `exited`). */
  justExited: ReadonlySet<string>;
  /** A deleted profile's last state, from its change row. */
  deletedState?: ProfileState;
  /** The transaction of the profile's first change in the batch (absent in a backfill). */
  firstTx?: string;
}

/**
 * Shared by the candidates that left no segment (most): a candidate that
 * does gets a set of its own before anything is added.
 */
const NONE_EXITED: ReadonlySet<string> = new Set<string>();

/**
 * Coalesces a batch of changes into one export per profile (its latest state
 * wins), keeping only profiles a change triggers for this flow. No I/O.
 */
export function selectChanges(
  changes: ProfileChange[],
  mapping: FlowMapping,
): Candidate[] {
  const byProfile = new Map<string, Candidate>();
  for (const ch of changes) {
    const triggers = triggersOf(ch, mapping);
    if (triggers.length === 0 && !byProfile.has(ch.profileId)) continue;
    let c = byProfile.get(ch.profileId);
    if (!c) {
      c = {
        profileId: ch.profileId,
        exportKey: '',
        triggers: new Set(),
        justExited: NONE_EXITED,
        firstTx: ch.txId,
      };
      byProfile.set(ch.profileId, c);
    }
    // The last change that triggers seeds the messageId: a later change
    // that does not trigger leaves the message as it was, so a batch re-read
    // with more such rows (after a failed commit) sends the same id.
    if (triggers.length > 0) c.exportKey = `change:${ch.txId}:${ch.id}`;
    for (const t of triggers) c.triggers.add(t);
    for (const m of ch.membershipChanges) {
      if (m.to === 'exited') c.justExited = withExit(c.justExited, m.segmentId);
      else if (c.justExited.has(m.segmentId))
        c.justExited = withoutExit(c.justExited, m.segmentId);
    }
    c.deletedState = ch.deleted ? deletedStateOf(ch) : undefined;
  }
  return [...byProfile.values()].filter((c) => c.triggers.size > 0);
}

function withExit(set: ReadonlySet<string>, id: string): ReadonlySet<string> {
  const own = set === NONE_EXITED ? new Set<string>() : new Set(set);
  own.add(id);
  return own;
}

function withoutExit(
  set: ReadonlySet<string>,
  id: string,
): ReadonlySet<string> {
  const own = new Set(set);
  own.delete(id);
  return own;
}

/** A deleted (or absorbed) profile as its change row recorded it. */
function deletedStateOf(ch: ProfileChange): ProfileState {
  const memberships: Record<string, MembershipState> = {};
  for (const m of ch.membershipChanges) {
    memberships[m.segmentId] = {
      status: m.to,
      lastQualificationTime: ch.changedAt.toISOString(),
    };
  }
  return {
    profileId: ch.profileId,
    attributes: ch.snapshot?.attributes ?? {},
    identityMap: ch.snapshot?.identityMap ?? {},
    memberships,
  };
}

/** A backfill page's members as candidates; one messageId seed per backfill. */
export function backfillCandidates(
  profileIds: string[],
  segmentIds: string[],
): Candidate[] {
  const seed = `backfill:${segmentIds.join(',')}`;
  // One set of each for the page: a backfill candidate's sets are only read.
  const triggers = new Set(['backfill']);
  return profileIds.map((profileId) => ({
    profileId,
    exportKey: seed,
    triggers,
    justExited: NONE_EXITED,
  }));
}
