import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import type { StoredMemberships } from '../memberships/stored-membership.js';
import type { ContentVersions } from './content-versions.js';
import type { IdentityMap, JsonObject } from './profile-data.js';

/** The merged (stitched) profile: current state read by lookups and by the runner. */
@Entity({ name: 'profiles' })
@Index('ix_profiles_tenant_id', ['orgId', 'sandboxName', 'id'])
// A lane's profiles of a tenant in (lane hash, id) order: an expression
// index, so the migrations own it (ProfilesLaneKey1765490000000).
@Index('ix_profiles_lane', { synchronize: false })
export class ProfileEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'text' })
  orgId: string;

  @Column({ type: 'text' })
  sandboxName: string;

  /** XDM attributes without identityMap and segmentMembership. */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  attributes: JsonObject;

  /** Union of every identity stitched into this profile (namespaces lower-cased). */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  identityMap: IdentityMap;

  /** Segment memberships, segment id → [status, lastQualificationTime]. */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  memberships: StoredMemberships;

  /** What seeds an export's messageId besides its body (content-versions.ts). */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  contentVersions: ContentVersions;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}
