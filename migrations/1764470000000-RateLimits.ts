import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Rate-limit counters shared by replicas. Generated, then made UNLOGGED by
 * hand: they are rewritten on every request, need no WAL, and losing them in
 * a crash only resets the current minute (TypeORM does not compare this
 * property, so the entity and the migration still match).
 */
export class RateLimits1764470000000 implements MigrationInterface {
  name = 'RateLimits1764470000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE UNLOGGED TABLE "rate_limit_windows" ("bucket" text NOT NULL, "window_start" TIMESTAMP WITH TIME ZONE NOT NULL, "hits" integer NOT NULL, CONSTRAINT "PK_ae593e8e73f95b5e7da682a8b7b" PRIMARY KEY ("bucket", "window_start"))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "rate_limit_windows"`);
  }
}
