import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * Exits every flow of the tenant has exported: the change-log purge records
 * them as it removes the change rows that announced them. An exited
 * membership is purged only from here, once it is older than the retention
 * period, so retention never outruns a flow that still owes the exit
 * (disabled, failing) and its cost follows what is due, not the store.
 */
@Entity({ name: 'exported_exits' })
@Index('ix_exported_exits_due', ['exitedAt'])
export class ExportedExitEntity {
  @PrimaryColumn({ type: 'text' })
  orgId: string;

  @PrimaryColumn({ type: 'text' })
  sandboxName: string;

  @PrimaryColumn({ type: 'uuid' })
  profileId: string;

  @PrimaryColumn({ type: 'text' })
  segmentId: string;

  /** The exit's time (its change row's); a later exit of the same membership replaces it. */
  @Column({ type: 'timestamptz' })
  exitedAt: Date;
}
