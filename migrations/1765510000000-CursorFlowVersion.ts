import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The flow version a lane's last step planned with. A claim took a lane
 * whose flow was edited after the lane's last commit (`flows.updated_at >
 * flow_cursors.updated_at`); but an edit committed while a step was running
 * on the previous version has an older time than that step's commit, so the
 * lane kept the old mapping until a change of its own profiles came — a
 * segment added by PATCH was never backfilled on lanes without changes.
 * Comparing versions has no such window. Null (cursors from before, new
 * ones): due once.
 */
export class CursorFlowVersion1765510000000 implements MigrationInterface {
  name = 'CursorFlowVersion1765510000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "flow_cursors" ADD COLUMN "flow_version" uuid`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "flow_cursors" DROP COLUMN "flow_version"`,
    );
  }
}
