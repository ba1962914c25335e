import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryColumn,
  UpdateDateColumn,
} from 'typeorm';
import type { Backfill, StoredMapping } from './step-plan.js';

/**
 * One lane of a flow (profile-store/lanes.ts): its export position in the
 * profile change log, its lease (which runner works on it), its retry state
 * and its share of a backfill. Row leases with `FOR UPDATE SKIP LOCKED` keep
 * runners from exporting one lane concurrently; a flow's lanes are exported
 * in parallel, each profile by the one lane its id hashes to.
 */
@Entity({ name: 'flow_cursors' })
@Index('ix_flow_cursors_due', ['nextAttemptAt'])
export class FlowCursorEntity {
  @PrimaryColumn({ type: 'uuid', primaryKeyConstraintName: 'pk_flow_cursors' })
  flowId: string;

  /** This row's lane, 0 ≤ lane < lanes. */
  @PrimaryColumn({
    type: 'int',
    default: 0,
    primaryKeyConstraintName: 'pk_flow_cursors',
  })
  lane: number;

  /** The flow's lane count, fixed when its cursors are created (RUNNER_LANES then). */
  @Column({ type: 'int', default: 1 })
  lanes: number;

  @Column({ type: 'text' })
  orgId: string;

  @Column({ type: 'text' })
  sandboxName: string;

  /** Position: the last exported change is (lastTxId, lastChangeId); xid8 kept as text. */
  @Column({ type: 'text' })
  lastTxId: string;

  @Column({ type: 'bigint' })
  lastChangeId: string;

  /** The mapping (segments, attributes) the position was computed for; a new segment triggers a backfill. */
  @Column({ type: 'jsonb' })
  mapping: StoredMapping;

  /** Pending backfill of newly mapped segments, this lane's members only: `{segmentIds, afterProfileId}`. */
  @Column({ type: 'jsonb', nullable: true })
  backfill: Backfill | null;

  @Column({ type: 'text', nullable: true })
  leaseOwner: string | null;

  @Column({ type: 'timestamptz', nullable: true })
  leaseUntil: Date | null;

  @Column({ type: 'timestamptz' })
  nextAttemptAt: Date;

  @Column({ type: 'int', default: 0 })
  failures: number;

  @Column({ type: 'text', nullable: true })
  lastError: string | null;

  @Column({ type: 'timestamptz', nullable: true })
  lastSuccessAt: Date | null;

  /** When an idle lane was last moved to the log's horizon without a step (RunnerRepository.advanceIdleLanes). */
  @Column({ type: 'timestamptz', nullable: true })
  caughtUpAt: Date | null;

  /**
   * Set when the flow was deleted: the cursor stays as a record of what the
   * flow exported (see export-positions.ts); nothing claims it any more.
   */
  @Column({ type: 'timestamptz', nullable: true })
  deletedAt: Date | null;

  /** The flow's version the lane's last step planned with (null: never, or before it was kept). */
  @Column({ type: 'uuid', nullable: true })
  flowVersion: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}

/** Which lane of which flow a cursor row is. */
export interface LaneRef {
  flowId: string;
  lane: number;
}

/** One string per lane of a flow, for in-memory maps (the pipeline, the scheduler's slots). */
export function laneKey(c: LaneRef): string {
  return `${c.flowId}/${c.lane}`;
}
