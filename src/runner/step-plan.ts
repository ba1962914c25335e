import type { ChangePosition } from '../profile-store/change-log.js';
import { type FlowMapping, mappingOf } from './mapping.js';

/** A pending backfill: newly mapped segments whose current members are exported once. */
export interface Backfill {
  segmentIds: string[];
  /** The last profile of the last committed page; null before the first. */
  afterProfileId: string | null;
}

/** What a step starts from: the flow's cursor as stored (or as its commit in flight will leave it). */
export interface CursorState {
  lastTxId: string;
  lastChangeId: string;
  mapping: FlowMapping;
  backfill: Backfill | null;
  lastSuccessAt: Date | null;
}

export interface StepPlan {
  mapping: FlowMapping;
  /** The flow's mapping differs from the one its position was computed for. */
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
 * segment the position was not computed for (CONTRACT A8); segments no
 * longer mapped leave a pending backfill.
 */
export function planStep(
  cursor: CursorState,
  transformations: unknown,
): StepPlan {
  const mapping = mappingOf(transformations);
  const stored = cursor.mapping;
  const storedSegments = stored.segmentIds ?? [];
  let backfill = cursor.backfill;
  const added = mapping.segmentIds.filter((id) => !storedSegments.includes(id));
  if (added.length) {
    backfill = {
      segmentIds: [
        ...new Set([...(backfill?.segmentIds ?? []), ...added]),
      ].sort(),
      afterProfileId: null,
    };
  }
  if (backfill)
    backfill = {
      ...backfill,
      segmentIds: backfill.segmentIds.filter((id) =>
        mapping.segmentIds.includes(id),
      ),
    };
  if (backfill && backfill.segmentIds.length === 0) backfill = null;
  return {
    mapping,
    mappingChanged: JSON.stringify(stored) !== JSON.stringify(mapping),
    backfill,
    skipToHorizon:
      backfill !== null &&
      backfill.afterProfileId === null &&
      storedSegments.length === 0 &&
      cursor.lastSuccessAt === null,
    position: { txId: cursor.lastTxId, id: cursor.lastChangeId },
  };
}
