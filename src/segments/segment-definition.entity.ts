import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';

export interface SegmentExpression {
  type: string;
  format: string;
  value: string;
}

@Entity({ name: 'segment_definitions' })
@Index('uq_segment_definitions_name', ['orgId', 'sandboxName', 'name'], {
  unique: true,
})
@Index('ix_segment_definitions_tenant', ['orgId', 'sandboxName', 'createdAt'])
export class SegmentDefinitionEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'text' })
  orgId: string;

  @Column({ type: 'text' })
  sandboxName: string;

  @Column({ type: 'uuid' })
  sandboxId: string;

  @Column({ type: 'text' })
  name: string;

  @Column({ type: 'text', nullable: true })
  description: string | null;

  /** `{type: "PQL", format: "pql/text", value}` as posted. */
  @Column({ type: 'jsonb' })
  expression: SegmentExpression;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  evaluationInfo: Record<string, unknown>;

  @Column({ type: 'text' })
  schemaName: string;

  @Column({ type: 'text' })
  profileInstanceId: string;

  @Column({ type: 'int', nullable: true })
  ttlInDays: number | null;

  @Column({ type: 'text', nullable: true })
  mergePolicyId: string | null;

  @Column({ type: 'text', nullable: true })
  payloadSchema: string | null;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  dataGovernancePolicy: Record<string, unknown>;

  /** Whether the expression depends on the current time (re-evaluated by the sweep). */
  @Column({ type: 'boolean' })
  timeRelative: boolean;

  /** Bumped on every change of the expression; background jobs evaluate one version. */
  @Column({ type: 'int', default: 1 })
  expressionVersion: number;

  @Column({ type: 'text' })
  createdBy: string;

  @Column({ type: 'text' })
  updatedBy: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}
