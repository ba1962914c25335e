import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';

export type DeliveryJobOp = 'replay' | 'resync';

/**
 * A replay or resync of one flow: its own run, and how far it got. The
 * runner works on it inside the flow's step, under the flow's lease, between
 * change-log batches; the flow's position is never touched by it.
 */
@Entity({ name: 'delivery_jobs' })
// One job at a time per flow: a second request is refused.
@Index('uq_delivery_jobs_running', ['flowId', 'lane'], {
  unique: true,
  where: "state = 'running'",
})
export class DeliveryJobEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'text' })
  orgId: string;

  @Column({ type: 'text' })
  sandboxName: string;

  @Column({ type: 'uuid' })
  flowId: string;

  @Column({ type: 'text' })
  op: DeliveryJobOp;

  /** `running` or `done`. */
  @Column({ type: 'text' })
  state: string;

  /** The job's own run. */
  @Column({ type: 'uuid' })
  runId: string;

  /** A replay of one run's records (null: every record of the flow). */
  @Column({ type: 'uuid', nullable: true })
  sourceRunId: string | null;

  /** Resync: the last member of the last committed page. */
  @Column({ type: 'uuid', nullable: true })
  afterProfileId: string | null;

  /** Replay: the last record of the last committed page. */
  @Column({ type: 'uuid', nullable: true })
  afterRecordId: string | null;

  /**
   * The flow's lane this row covers (of `lanes`): a job has one row per
   * lane, worked on by that lane's runner between its change-log batches,
   * so a profile's messages stay in the order of its states.
   */
  @Column({ type: 'int', default: 0 })
  lane: number;

  @Column({ type: 'int', default: 1 })
  lanes: number;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}
