import { CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/**
 * A profile a flow's target holds as consented: sent with consent, and not
 * told since that consent was withdrawn. Decides whether a profile without
 * consent gets one withdrawal message or nothing (runner/consent.ts).
 */
@Entity({ name: 'consent_states' })
export class ConsentStateEntity {
  @PrimaryColumn({ type: 'uuid' })
  flowId: string;

  @PrimaryColumn({ type: 'uuid' })
  targetConnectionId: string;

  @PrimaryColumn({ type: 'uuid' })
  profileId: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;
}
