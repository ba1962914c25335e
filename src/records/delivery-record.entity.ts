import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryGeneratedColumn,
} from 'typeorm';

/**
 * A record a run did not deliver (failed, or excluded by a rule), kept so an
 * operator can see why and replay it; deleted after the retention period.
 */
@Entity({ name: 'delivery_records' })
@Index('ix_delivery_records_run', ['runId', 'status', 'createdAt'])
// Replay pages through a flow's records not replayed yet, in id order.
@Index('ix_delivery_records_open', ['flowId', 'id'], {
  where: 'replayed_at IS NULL',
})
// Retention deletes the oldest first.
@Index('ix_delivery_records_created', ['createdAt'])
export class DeliveryRecordEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'text' })
  orgId: string;

  @Column({ type: 'text' })
  sandboxName: string;

  @Column({ type: 'uuid' })
  flowId: string;

  @Column({ type: 'uuid' })
  runId: string;

  /** Null when the rule holds for every target (a missing mandatory field). */
  @Column({ type: 'uuid', nullable: true })
  targetConnectionId: string | null;

  @Column({ type: 'uuid' })
  profileId: string;

  /** The profile's identities as the message would carry them (`{ns: [{id}]}`). */
  @Column({ type: 'jsonb' })
  identityMap: Record<string, { id: string }[]>;

  @Column({ type: 'text' })
  trigger: string;

  /** `failed` or `excluded` (record-reasons.ts). */
  @Column({ type: 'text' })
  status: string;

  @Column({ type: 'text' })
  reasonCode: string;

  @Column({ type: 'text' })
  message: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @Column({ type: 'timestamptz', nullable: true })
  replayedAt: Date | null;
}
