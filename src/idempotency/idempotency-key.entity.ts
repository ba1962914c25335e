import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * A request made with an `Idempotency-Key` and the response it got, kept
 * until `expiresAt` (IDEMPOTENCY_TTL_HOURS). Written in the same transaction
 * as whatever the request created, so a key is stored if and only if its
 * resource is.
 */
@Entity({ name: 'idempotency_keys' })
@Index('ix_idempotency_keys_expiry', ['expiresAt'])
export class IdempotencyKeyEntity {
  @PrimaryColumn({ type: 'text' })
  orgId: string;

  @PrimaryColumn({ type: 'text' })
  sandboxName: string;

  @PrimaryColumn({ type: 'text' })
  clientId: string;

  @PrimaryColumn({ type: 'text' })
  key: string;

  /** `POST /data/foundation/flowservice/flows`: the key's first use decides. */
  @Column({ type: 'text' })
  route: string;

  /** SHA-256 of the canonical JSON body. */
  @Column({ type: 'text' })
  fingerprint: string;

  @Column({ type: 'int' })
  status: number;

  /** The headers replayed with the body (Location, ETag). */
  @Column({ type: 'jsonb' })
  headers: Record<string, string>;

  @Column({ type: 'jsonb', nullable: true })
  body: unknown;

  @Column({ type: 'timestamptz' })
  createdAt: Date;

  @Column({ type: 'timestamptz' })
  expiresAt: Date;
}
