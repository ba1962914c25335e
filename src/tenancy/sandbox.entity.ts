import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryGeneratedColumn,
} from 'typeorm';

@Entity({ name: 'sandboxes' })
@Index('uq_sandboxes_org_name', ['orgId', 'name'], { unique: true })
export class SandboxEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'text' })
  orgId: string;

  @Column({ type: 'text' })
  name: string;

  /** `production` or `development`, as Adobe reports it. */
  @Column({ type: 'text' })
  type: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;
}
