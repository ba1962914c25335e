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
 * A flow's export position in the profile change log, its lease (which
 * replica works on it) and its retry state. Row leases with
 * `FOR UPDATE SKIP LOCKED` keep replicas from exporting one flow concurrently.
 */
@Entity({ name: 'flow_cursors' })
@Index('ix_flow_cursors_due', ['nextAttemptAt'])
export class FlowCursorEntity {
  @PrimaryColumn({ type: 'uuid' })
  flowId: string;

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

  /** Pending backfill of newly mapped segments: `{segmentIds, afterProfileId}`. */
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

  /**
   * Set when the flow was deleted: the cursor stays as a record of what the
   * flow exported (see export-positions.ts); nothing claims it any more.
   */
  @Column({ type: 'timestamptz', nullable: true })
  deletedAt: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}
