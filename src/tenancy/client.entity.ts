import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryGeneratedColumn,
} from 'typeorm';

/** An API client (server-to-server credential) of one IMS org. */
@Entity({ name: 'clients' })
export class ClientEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Index('uq_clients_client_id', { unique: true })
  @Column({ type: 'text' })
  clientId: string;

  /** scrypt hash `scrypt$N$r$p$salt$hash`; the secret itself is never stored. */
  @Column({ type: 'text' })
  secretHash: string;

  @Column({ type: 'text' })
  orgId: string;

  @Column({ type: 'text' })
  name: string;

  /** Sandboxes this client may use; `*` means every sandbox of its org. */
  @Column({ type: 'text', array: true })
  sandboxes: string[];

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;
}
