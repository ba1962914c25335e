import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-facet content versions of a profile (content-versions.ts): they seed
 * export messageIds in place of the row's version, which also moves on
 * writes that change nothing a flow sends.
 */
export class ContentVersions1765460000000 implements MigrationInterface {
  name = 'ContentVersions1765460000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "profiles" ADD "content_versions" jsonb NOT NULL DEFAULT '{}'`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "profiles" DROP COLUMN "content_versions"`,
    );
  }
}
