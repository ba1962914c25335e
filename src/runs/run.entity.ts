import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';

/**
 * One streaming run: a flow's exports during one UTC hour, or one replay or
 * resync of the flow (`op`), which starts at `hourStart` and ends at `endedAt`.
 */
@Entity({ name: 'runs' })
@Index('uq_runs_flow_hour', ['flowId', 'hourStart'], { unique: true })
@Index('ix_runs_tenant', ['orgId', 'sandboxName', 'createdAt'])
@Index('ix_runs_flow_created', ['flowId', 'createdAt'])
// A partial index over failed runs (a filter of runs.service.ts), owned by the
// migration ListIndexes1764900000000.
@Index('ix_runs_failed', { synchronize: false })
export class RunEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'text' })
  orgId: string;

  @Column({ type: 'text' })
  sandboxName: string;

  @Column({ type: 'uuid' })
  sandboxId: string;

  @Column({ type: 'uuid' })
  flowId: string;

  @Column({ type: 'uuid' })
  flowSpecId: string;

  @Column({ type: 'timestamptz' })
  hourStart: Date;

  @Column({ type: 'uuid' })
  version: string;

  /** `replay` or `resync` for an operation's run; null for an hour's run. */
  @Column({ type: 'text', nullable: true })
  op: string | null;

  /** When an operation's run finished (null while it runs, and for an hour's run). */
  @Column({ type: 'timestamptz', nullable: true })
  endedAt: Date | null;

  /** `metrics` as in Adobe's run item (recordSummary, sizeSummary, durationSummary, statusSummary). */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  metrics: Record<string, unknown>;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}
