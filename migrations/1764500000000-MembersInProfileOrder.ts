import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The segment index also orders members by profile id, so a backfill page
 * ("members after profile X") is an index range scan per segment and status:
 * its cost follows the page, not the size of the profile store.
 */
export class MembersInProfileOrder1764500000000 implements MigrationInterface {
  name = 'MembersInProfileOrder1764500000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `DROP INDEX "public"."ix_segment_memberships_segment"`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_segment_memberships_segment" ON "segment_memberships" ("segment_id", "status", "profile_id") `,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `DROP INDEX "public"."ix_segment_memberships_segment"`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_segment_memberships_segment" ON "segment_memberships" ("segment_id", "status") `,
    );
  }
}
