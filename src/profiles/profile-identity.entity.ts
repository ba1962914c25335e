import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** Identity graph: each (namespace, id) of a tenant belongs to exactly one profile. */
@Entity({ name: 'profile_identities' })
@Index('ix_profile_identities_profile', ['profileId'])
export class ProfileIdentityEntity {
  @PrimaryColumn({ type: 'text' })
  orgId: string;

  @PrimaryColumn({ type: 'text' })
  sandboxName: string;

  /** Lower-cased namespace code, e.g. `email`, `ecid`. */
  @PrimaryColumn({ type: 'text' })
  namespace: string;

  @PrimaryColumn({ type: 'text' })
  identity: string;

  @Column({ type: 'uuid' })
  profileId: string;
}
