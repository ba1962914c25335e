import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * Messages one flow got acknowledged (and records that failed) during one
 * UTC minute, summed over replicas. Kept for two days: the
 * per-minute view of what runs show per hour.
 */
@Entity({ name: 'flow_export_minutes' })
@Index('ix_flow_export_minutes_minute', ['minute'])
export class FlowExportMinuteEntity {
  @PrimaryColumn({ type: 'uuid' })
  flowId: string;

  @PrimaryColumn({ type: 'timestamptz' })
  minute: Date;

  @Column({ type: 'integer', default: 0 })
  exports: number;

  @Column({ type: 'integer', default: 0 })
  failures: number;
}
