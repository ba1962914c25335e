import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

export type MembershipStatus = 'realized' | 'existing' | 'exited';

/** Current membership of one profile in one segment (CONTRACT A7). */
@Entity({ name: 'segment_memberships' })
@Index('ix_segment_memberships_segment', [
  'orgId',
  'sandboxName',
  'segmentId',
  'status',
])
@Index('ix_segment_memberships_exited', ['status', 'lastQualificationTime'])
export class SegmentMembershipEntity {
  @PrimaryColumn({ type: 'uuid' })
  profileId: string;

  @PrimaryColumn({ type: 'uuid' })
  segmentId: string;

  @Column({ type: 'text' })
  orgId: string;

  @Column({ type: 'text' })
  sandboxName: string;

  @Column({ type: 'text' })
  status: MembershipStatus;

  /** Time of the evaluation that set the current status. */
  @Column({ type: 'timestamptz' })
  lastQualificationTime: Date;
}
