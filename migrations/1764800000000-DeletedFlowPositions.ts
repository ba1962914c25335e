import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A deleted flow's cursor is kept, marked deleted, instead of going with the
 * flow: its position still says which `realized` memberships that flow
 * exported, so the profile lookup keeps reporting them `existing` (the
 * export does not write profile rows). Nothing claims it (claims join
 * flows) and the change-log purge ignores it.
 */
export class DeletedFlowPositions1764800000000 implements MigrationInterface {
  name = 'DeletedFlowPositions1764800000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "flow_cursors" ADD "deleted_at" TIMESTAMP WITH TIME ZONE`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `DELETE FROM "flow_cursors" WHERE "deleted_at" IS NOT NULL`,
    );
    await queryRunner.query(
      `ALTER TABLE "flow_cursors" DROP COLUMN "deleted_at"`,
    );
  }
}
