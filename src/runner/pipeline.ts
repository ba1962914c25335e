import type { ChangePosition } from '../profile-store/change-log.js';
import type { ProfileState } from '../profile-store/profile-state.js';
import type { FlowMapping } from './mapping.js';
import type { Candidate } from './select.js';
import type { FlowCursorEntity } from './flow-cursor.entity.js';

/** A batch of the change log, read and selected, with its profiles' states. */
export interface ChangeBatch {
  changeCount: number;
  nextPosition: ChangePosition;
  candidates: Candidate[];
  states: Map<string, ProfileState>;
}

/** A prefetched batch older than this is read again, so exports never carry old state for long. */
const PREFETCH_MAX_AGE_MS = 10_000;

function batchKey(
  position: ChangePosition,
  mapping: FlowMapping,
  batchSize: number,
): string {
  return `${position.txId}:${position.id}:${batchSize}:${JSON.stringify(mapping)}`;
}

/**
 * The runner's pipelining, per lane of a flow (`lane`: its laneKey), in one
 * place: while a step builds and publishes, the previous step's commit may
 * still be in flight (at most one) and the next batch may already be read
 * (at most one).
 *
 * Commits land in step order: a step waits for the previous commit
 * (`settle`) before it commits or records a failure, and a lost lease found
 * there stops the flow; what it published meanwhile is a duplicate with the
 * same messageIds.
 */
export class StepPipeline {
  private readonly commits = new Map<
    string,
    { done: Promise<boolean>; next: FlowCursorEntity }
  >();
  private readonly prefetched = new Map<
    string,
    { key: string; at: number; batch: Promise<ChangeBatch | null> }
  >();

  /** Records a commit in flight and the cursor as it will be once it lands. */
  commitInFlight(
    lane: string,
    done: Promise<boolean>,
    next: FlowCursorEntity,
  ): void {
    done.catch(() => undefined); // awaited by settle(); no unhandled rejection meanwhile
    this.commits.set(lane, { done, next });
  }

  /**
   * The flow's cursor as it will be when its commit in flight lands, or null
   * when no commit is in flight (read the stored cursor then).
   */
  pendingCursor(lane: string): FlowCursorEntity | null {
    return this.commits.get(lane)?.next ?? null;
  }

  /**
   * Waits for the flow's commit in flight, if any: false when it found the
   * lease lost (another replica owns the flow now). Rejects if it failed.
   */
  async settle(lane: string): Promise<boolean> {
    const pending = this.commits.get(lane);
    if (!pending) return true;
    this.commits.delete(lane);
    return pending.done;
  }

  /** Starts reading the batch at `position` while the current one is built and published. */
  prefetch(
    lane: string,
    position: ChangePosition,
    mapping: FlowMapping,
    batchSize: number,
    read: () => Promise<ChangeBatch | null>,
  ): void {
    const now = Date.now();
    for (const [id, e] of this.prefetched)
      if (now - e.at > PREFETCH_MAX_AGE_MS) this.prefetched.delete(id);
    this.prefetched.set(lane, {
      key: batchKey(position, mapping, batchSize),
      at: now,
      batch: read(),
    });
  }

  /**
   * The batch prefetched for exactly this position and mapping, if any. A
   * step that failed, a changed mapping or a flow taken over by another
   * replica starts elsewhere, and the prefetched batch is dropped.
   */
  async takePrefetched(
    lane: string,
    position: ChangePosition,
    mapping: FlowMapping,
    batchSize: number,
  ): Promise<ChangeBatch | null> {
    const entry = this.prefetched.get(lane);
    if (!entry) return null;
    this.prefetched.delete(lane);
    if (
      entry.key !== batchKey(position, mapping, batchSize) ||
      Date.now() - entry.at > PREFETCH_MAX_AGE_MS
    )
      return null;
    return entry.batch;
  }
}
