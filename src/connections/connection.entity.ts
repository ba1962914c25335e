import { Column, Entity, Index } from 'typeorm';
import { TenantScopedEntity } from '../common/tenant-scoped.entity.js';

/** A base connection: credentials for one system (an Event Hubs namespace, the profile store). */
@Entity({ name: 'connections' })
@Index('ix_connections_tenant', ['orgId', 'sandboxName', 'createdAt'])
export class ConnectionEntity extends TenantScopedEntity {
  @Column({ type: 'uuid' })
  connectionSpecId: string;

  @Column({ type: 'text' })
  connectionSpecVersion: string;

  @Column({ type: 'text', nullable: true })
  authSpecName: string | null;

  /** Auth params without the secret fields. */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  authParams: Record<string, unknown>;

  /** Secret auth params (format: password), AES-256-GCM encrypted as a JSON object. */
  @Column({ type: 'text', nullable: true })
  authSecrets: string | null;
}
