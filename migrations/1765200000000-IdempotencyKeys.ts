import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Idempotency-Key records (IdempotencyKeyEntity): one row per key of a
 * client in an org and sandbox, with the response it got; the index on the
 * expiry drives the bounded cleanup.
 */
export class IdempotencyKeys1765200000000 implements MigrationInterface {
  name = 'IdempotencyKeys1765200000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "idempotency_keys" ("org_id" text NOT NULL, "sandbox_name" text NOT NULL, "client_id" text NOT NULL, "key" text NOT NULL, "route" text NOT NULL, "fingerprint" text NOT NULL, "status" integer NOT NULL, "headers" jsonb NOT NULL, "body" jsonb, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_idempotency_keys" PRIMARY KEY ("org_id", "sandbox_name", "client_id", "key"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_idempotency_keys_expiry" ON "idempotency_keys" ("expires_at") `,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."ix_idempotency_keys_expiry"`);
    await queryRunner.query(`DROP TABLE "idempotency_keys"`);
  }
}
