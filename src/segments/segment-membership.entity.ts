import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

export type MembershipStatus = 'realized' | 'existing' | 'exited';

/** Current membership of one profile in one segment (CONTRACT A7). */
@Entity({ name: 'segment_memberships' })
// Segment ids are globally unique, so members of a segment need no tenant
// prefix in the index (narrower index = cheaper ingestion). Profile id last:
// a backfill pages through members in profile order (RunnerRepository.membersAfter).
@Index('ix_segment_memberships_segment', ['segmentId', 'status', 'profileId'])
// Only exited rows are purged, so only they are indexed for it.
@Index('ix_segment_memberships_exited', ['lastQualificationTime'], {
  where: `"status" = 'exited'`,
})
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
