import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * Identity graph: each (namespace, id) of a tenant belongs to exactly one
 * profile, and a profile owns exactly the identities of its identityMap (so
 * no index by profile: a delete goes by those keys).
 */
@Entity({ name: 'profile_identities' })
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

  /** When the identity first joined a profile (a merge keeps it): the oldest go first past 50. */
  @Column({ type: 'timestamptz', default: () => 'now()' })
  firstSeenAt: Date;
}
