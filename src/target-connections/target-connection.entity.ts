import { Column, Entity, Index } from 'typeorm';
import { TenantScopedEntity } from '../common/tenant-scoped.entity.js';

@Entity({ name: 'target_connections' })
@Index('ix_target_connections_tenant', ['orgId', 'sandboxName', 'createdAt'])
@Index('ix_target_connections_base', ['baseConnectionId'])
export class TargetConnectionEntity extends TenantScopedEntity {
  @Column({ type: 'uuid', nullable: true })
  baseConnectionId: string | null;

  @Column({ type: 'uuid' })
  connectionSpecId: string;

  @Column({ type: 'text' })
  connectionSpecVersion: string;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  data: Record<string, unknown>;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  params: Record<string, unknown>;
}
