import { Column, Entity, Index } from 'typeorm';
import { TenantScopedEntity } from '../common/tenant-scoped.entity.js';

@Entity({ name: 'flows' })
@Index('ix_flows_tenant', ['orgId', 'sandboxName', 'createdAt'])
// A GIN index over the lowercased segment ids the flow maps (FLOW_SEGMENT_IDS_SQL
// in flows.service.ts); an expression index TypeORM cannot describe, so the
// migration ListIndexes1764900000000 owns it.
@Index('ix_flows_segment_ids', { synchronize: false })
// By lowercased name in byte order (the list's `orderby=name`), likewise.
@Index('ix_flows_name', { synchronize: false })
export class FlowEntity extends TenantScopedEntity {
  @Column({ type: 'uuid' })
  flowSpecId: string;

  @Column({ type: 'text' })
  flowSpecVersion: string;

  @Column({ type: 'uuid', array: true })
  sourceConnectionIds: string[];

  @Column({ type: 'uuid', array: true })
  targetConnectionIds: string[];

  @Column({ type: 'jsonb', default: () => "'[]'" })
  transformations: Record<string, unknown>[];

  /** `{operation, started, updated}` of the last API operation, as Adobe reports it. */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  lastOperation: Record<string, unknown>;
}
