import type { TimeSlice } from './time-slice.js';
import {
  type MembershipStatus,
  type StoredMembership,
  type StoredMemberships,
  isActive,
  statusOf,
} from './stored-membership.js';

/** Entering or leaving a segment: what the change log records of memberships. */
export interface MembershipChange {
  segmentId: string;
  from: MembershipStatus | null;
  to: 'realized' | 'exited';
}

export interface Transitions {
  /** The profile's memberships after this evaluation (unchanged ones kept). */
  next: StoredMemberships;
  /** Only the entries this evaluation set; null when nothing changed. */
  patch: StoredMemberships | null;
  /** Entering and leaving, for the change log. */
  changes: MembershipChange[];
}

/** One evaluation of a batch: its time, formatted once, and its transaction. */
export interface Evaluation {
  now: Date;
  nowIso: string;
  txId: string;
}

/** A segment as the rules need it; `isMember` runs its PQL on a profile document. */
export interface SegmentRule<Doc> {
  id: string;
  isMember(doc: Doc, now: Date): boolean;
}

/**
 * Membership rules (CONTRACT A7) for one profile against some segments:
 * entering → `realized`; still a member on a later evaluation → `existing`;
 * leaving → `exited`; re-entering → `realized`. `lastQualificationTime` is
 * the time of the evaluation that set the current status; a `realized`
 * entry also keeps the evaluating transaction's id (see `seen.ts`). Only
 * entering and leaving are changes for the change log (realized → existing
 * is not).
 */
export function membershipTransitions<Doc>(
  doc: Doc,
  segments: SegmentRule<Doc>[],
  current: StoredMemberships | undefined,
  at: Evaluation,
): Transitions {
  const out: Evaluated = { patch: null, changes: [] };
  evaluateRange(doc, segments, 0, segments.length, current, at, out);
  return withNext(current, out);
}

interface Evaluated {
  patch: Record<string, StoredMembership> | null;
  changes: MembershipChange[];
}

/** The transitions of segments[from, to) into `out` (segment ids are distinct). */
function evaluateRange<Doc>(
  doc: Doc,
  segments: SegmentRule<Doc>[],
  from: number,
  to: number,
  current: StoredMemberships | undefined,
  at: Evaluation,
  out: Evaluated,
): void {
  const set = statesAt(at.nowIso, at.txId);
  for (let i = from; i < to; i++) {
    const segment = segments[i] as SegmentRule<Doc>;
    const member = segment.isMember(doc, at.now);
    const prev = current?.[segment.id];
    const wasMember = isActive(prev);
    if (member && !wasMember) {
      (out.patch ??= {})[segment.id] = set.realized;
      out.changes.push({
        segmentId: segment.id,
        from: prev ? statusOf(prev) : null,
        to: 'realized',
      });
    } else if (member && prev && statusOf(prev) === 'realized') {
      (out.patch ??= {})[segment.id] = set.existing;
    } else if (!member && prev && wasMember) {
      (out.patch ??= {})[segment.id] = set.exited;
      out.changes.push({
        segmentId: segment.id,
        from: statusOf(prev),
        to: 'exited',
      });
    }
  }
}

/**
 * `next` is built on first use: a stored profile's write needs only the
 * patch (the database merges it over the stored entries), and copying every
 * membership of every profile evaluated is a cost ingestion would pay for
 * nothing.
 */
function withNext(
  current: StoredMemberships | undefined,
  { patch, changes }: Evaluated,
): Transitions {
  let next: StoredMemberships | undefined;
  return {
    get next(): StoredMemberships {
      return (next ??= patch ? { ...current, ...patch } : (current ?? {}));
    },
    patch,
    changes,
  };
}

/** Segments evaluated between two chances to yield (see TimeSlice). */
const SEGMENTS_PER_SLICE_CHECK = 4;

/**
 * membershipTransitions for many segments, giving the event loop a turn
 * whenever `slice` says so between groups of segments: one profile against
 * hundreds of costly definitions must not hold the loop for long. The
 * memberships are copied once, after the last group.
 */
export async function membershipTransitionsSliced<Doc>(
  doc: Doc,
  segments: SegmentRule<Doc>[],
  current: StoredMemberships | undefined,
  at: Evaluation,
  slice: TimeSlice,
): Promise<Transitions> {
  await slice.maybeYield();
  const out: Evaluated = { patch: null, changes: [] };
  for (let i = 0; i < segments.length; i += SEGMENTS_PER_SLICE_CHECK) {
    if (i > 0) await slice.maybeYield();
    const end = Math.min(segments.length, i + SEGMENTS_PER_SLICE_CHECK);
    evaluateRange(doc, segments, i, end, current, at, out);
  }
  return withNext(current, out);
}

/**
 * The three entries of one evaluation (time and transaction), frozen and
 * shared by every membership a batch sets (one batch sets ~10 per profile).
 */
let lastStates: {
  iso: string;
  txId: string;
  realized: StoredMembership;
  existing: StoredMembership;
  exited: StoredMembership;
} = {
  iso: '',
  txId: '',
  realized: ['realized', ''],
  existing: ['existing', ''],
  exited: ['exited', ''],
};
function statesAt(iso: string, txId: string): typeof lastStates {
  if (lastStates.iso !== iso || lastStates.txId !== txId) {
    lastStates = {
      iso,
      txId,
      realized: Object.freeze(['realized', iso, txId] as const),
      existing: Object.freeze(['existing', iso] as const),
      exited: Object.freeze(['exited', iso] as const),
    };
  }
  return lastStates;
}

/** Exits of every active membership: for a deleted or absorbed profile. */
export function exitAll(
  current: StoredMemberships | undefined,
): MembershipChange[] {
  const out: MembershipChange[] = [];
  for (const [segmentId, state] of Object.entries(current ?? {})) {
    if (isActive(state)) {
      out.push({ segmentId, from: statusOf(state), to: 'exited' });
    }
  }
  return out.sort((a, b) => (a.segmentId < b.segmentId ? -1 : 1));
}
