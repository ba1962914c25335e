import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When each identity was first seen: a profile keeps at most 50 identities
 * (Adobe's identity-graph guardrail), and the oldest go first when a new one
 * would exceed that. A merge moves an identity to another profile without
 * changing it. Rows from before get the migration's time.
 */
export class IdentityFirstSeen1764950000000 implements MigrationInterface {
  name = 'IdentityFirstSeen1764950000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "profile_identities" ADD "first_seen_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now()`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "profile_identities" DROP COLUMN "first_seen_at"`,
    );
  }
}
