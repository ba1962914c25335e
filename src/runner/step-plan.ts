import { compareTxIds } from '../memberships/stored-membership.js';
import type { ChangePosition } from '../profile-store/change-log.js';
import { type FlowMapping, mappingOf } from './mapping.js';

/**
 * A pending backfill: the current members of some mapped segments, exported
 * once — to every target, or only to `targetIds` (targets added to a
 * running flow).
 */
export interface Backfill {
  segmentIds: string[];
  /** The last profile of the last committed page; null before the first. */
  afterProfileId: string | null;
  /** Only these targets receive the backfill (absent: every target). */
  targetIds?: string[];
}

/**
 * What a cursor's position was computed for: the flow's mapping and its
 * targets (absent on cursors written before targets were recorded).
 */
export interface StoredMapping extends FlowMapping {
  targetConnectionIds?: string[];
}

/** What a step starts from: the flow's cursor as stored (or as its commit in flight will leave it). */
export interface CursorState {
  lastTxId: string;
  lastChangeId: string;
  mapping: StoredMapping;
  backfill: Backfill | null;
  lastSuccessAt: Date | null;
}

export interface StepPlan {
  mapping: FlowMapping;
  /** What the cursor records once this step commits. */
  stored: StoredMapping;
  /** The flow's mapping or targets differ from what its position was computed for. */
  mappingChanged: boolean;
  /** The backfill this step works on (none: read the change log). */
  backfill: Backfill | null;
  /**
   * The flow's first backfill exports the current state of every member, so
   * changes committed before it starts are already covered: its position
   * jumps to the log's horizon.
   */
  skipToHorizon: boolean;
  position: ChangePosition;
}

/**
 * Plans a step (no I/O): the mapping now, and a backfill when it maps a
 * segment the position was not computed for (CONTRACT A8), or when a target
 * was added (the mapped segments' members, to the new targets only);
 * segments no longer mapped leave a pending backfill.
 */
export function planStep(
  cursor: CursorState,
  transformations: unknown,
  targetIds: string[],
): StepPlan {
  const mapping = mappingOf(transformations);
  const stored = cursor.mapping;
  const storedSegments = stored.segmentIds ?? [];
  let backfill = cursor.backfill;
  const added = mapping.segmentIds.filter((id) => !storedSegments.includes(id));
  // A brand-new flow (nothing recorded yet) backfills through `added`.
  const addedTargets =
    stored.targetConnectionIds === undefined || storedSegments.length === 0
      ? []
      : targetIds.filter((id) => !stored.targetConnectionIds?.includes(id));
  if (added.length && !addedTargets.length) {
    backfill = {
      segmentIds: [
        ...new Set([...(backfill?.segmentIds ?? []), ...added]),
      ].sort(),
      afterProfileId: null,
      // A pending backfill for new targets only widens to every target.
    };
  } else if (addedTargets.length) {
    // A new target gets every mapped segment's members. With other work
    // pending (new segments, a backfill under way), the backfill starts
    // over for every target: re-sent pages keep their messageIds.
    const onlyNew = !added.length && !backfill;
    backfill = {
      segmentIds: [...mapping.segmentIds].sort(),
      afterProfileId: null,
      ...(onlyNew ? { targetIds: [...addedTargets].sort() } : {}),
    };
  }
  if (backfill) {
    const segmentIds = backfill.segmentIds.filter((id) =>
      mapping.segmentIds.includes(id),
    );
    const targets = backfill.targetIds?.filter((id) => targetIds.includes(id));
    backfill =
      segmentIds.length === 0 || targets?.length === 0
        ? null
        : {
            ...backfill,
            segmentIds,
            ...(targets ? { targetIds: targets } : {}),
          };
  }
  const next: StoredMapping = { ...mapping, targetConnectionIds: targetIds };
  return {
    mapping,
    stored: next,
    mappingChanged: JSON.stringify(stored) !== JSON.stringify(next),
    backfill,
    skipToHorizon:
      backfill !== null &&
      backfill.afterProfileId === null &&
      storedSegments.length === 0 &&
      cursor.lastSuccessAt === null,
    position: { txId: cursor.lastTxId, id: cursor.lastChangeId },
  };
}

/** The later of two change-log positions. */
export function laterPosition(
  a: ChangePosition,
  b: ChangePosition,
): ChangePosition {
  const tx = compareTxIds(a.txId, b.txId);
  if (tx !== 0) return tx > 0 ? a : b;
  return compareTxIds(a.id, b.id) >= 0 ? a : b;
}

/**
 * Where a lane goes after reading a batch of its changes: past the last
 * change read, and — when the batch was not full, so every change of the
 * lane below `horizon` (the log's horizon taken before the read) was in it —
 * up to the horizon. A lane whose profiles change rarely then keeps up with
 * the log, so positions compared across lanes (the purge, exportPositions)
 * do not stay behind on it.
 */
export function positionAfterRead(
  from: ChangePosition,
  last: ChangePosition | undefined,
  full: boolean,
  horizon: ChangePosition,
): ChangePosition {
  const read = last ?? from;
  return full ? read : laterPosition(read, horizon);
}
