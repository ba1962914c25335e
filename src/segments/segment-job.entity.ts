import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';

export type SegmentJobKind = 'evaluate' | 'sweep';
export type SegmentJobStatus =
  'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/**
 * Background evaluation of one segment over every profile of its tenant,
 * in batches. `cursor` is the last profile id done; it moves in the same
 * transaction as the batch's memberships, so a crashed job resumes exactly.
 */
@Entity({ name: 'segment_jobs' })
@Index('ix_segment_jobs_claim', ['status', 'createdAt'])
@Index('ix_segment_jobs_segment', ['orgId', 'sandboxName', 'segmentId'])
export class SegmentJobEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'text' })
  orgId: string;

  @Column({ type: 'text' })
  sandboxName: string;

  @Column({ type: 'uuid' })
  segmentId: string;

  /** The segment's expressionVersion this job evaluates; a newer version cancels it. */
  @Column({ type: 'int' })
  expressionVersion: number;

  @Column({ type: 'text' })
  kind: SegmentJobKind;

  @Column({ type: 'text' })
  status: SegmentJobStatus;

  @Column({ type: 'uuid', nullable: true })
  cursor: string | null;

  @Column({ type: 'int', default: 0 })
  processedCount: number;

  /** Profiles of the tenant when the job was created (progress denominator). */
  @Column({ type: 'int', default: 0 })
  totalCount: number;

  @Column({ type: 'int', default: 0 })
  enteredCount: number;

  @Column({ type: 'int', default: 0 })
  exitedCount: number;

  @Column({ type: 'int', default: 0 })
  attempts: number;

  @Column({ type: 'text', nullable: true })
  leaseOwner: string | null;

  @Column({ type: 'timestamptz', nullable: true })
  leaseExpiresAt: Date | null;

  @Column({ type: 'text', nullable: true })
  error: string | null;

  @Column({ type: 'timestamptz', nullable: true })
  startedAt: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  finishedAt: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}
