import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * One fixed one-minute window of a rate-limit bucket (`client:<id>`,
 * `token:<client_id>`). Shared by all replicas; the table is UNLOGGED (see
 * the migration): losing counters in a crash only resets a minute's count.
 */
@Entity({ name: 'rate_limit_windows' })
export class RateLimitWindowEntity {
  @PrimaryColumn({ type: 'text' })
  bucket: string;

  @PrimaryColumn({ type: 'timestamptz' })
  windowStart: Date;

  @Column({ type: 'int' })
  hits: number;
}
