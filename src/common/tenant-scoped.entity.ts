import {
  Column,
  CreateDateColumn,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';

/**
 * Columns every Flow Service resource carries. Every row belongs to exactly one
 * tenant (IMS org + sandbox) and every query filters on both.
 */
export abstract class TenantScopedEntity {
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

  @Column({ type: 'text' })
  state: string;

  /** Opaque version; the etag is this value in double quotes. */
  @Column({ type: 'uuid' })
  version: string;

  @Column({ type: 'text' })
  createdBy: string;

  @Column({ type: 'text' })
  updatedBy: string;

  @Column({ type: 'text' })
  createdClient: string;

  @Column({ type: 'text' })
  updatedClient: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}
