import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The lane count existing flows are split into (RUNNER_LANES' default when lanes came). */
const LANES = 4;

/**
 * A flow's cursor becomes one row per lane (profile-store/lanes.ts), keyed
 * by (flow_id, lane). Every live flow is split into LANES lanes that start
 * where its cursor stood: same position, mapping, retry state and backfill
 * (a lane pages only its own members after the backfill's last profile, so
 * together they finish it exactly). Deleted flows' cursors stay one lane:
 * they only record how far that flow exported.
 */
export class FlowLanes1765400000000 implements MigrationInterface {
  name = 'FlowLanes1765400000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "flow_cursors" ADD "lane" integer NOT NULL DEFAULT '0'`,
    );
    await queryRunner.query(
      `ALTER TABLE "flow_cursors" ADD "lanes" integer NOT NULL DEFAULT '1'`,
    );
    await queryRunner.query(
      `ALTER TABLE "flow_cursors" DROP CONSTRAINT "PK_69023d7f50c9029af3c1cae9bf6"`,
    );
    await queryRunner.query(
      `ALTER TABLE "flow_cursors" ADD CONSTRAINT "pk_flow_cursors" PRIMARY KEY ("flow_id", "lane")`,
    );
    await queryRunner.query(
      `UPDATE "flow_cursors" SET "lanes" = ${LANES}, "lease_owner" = NULL, "lease_until" = NULL
        WHERE "deleted_at" IS NULL`,
    );
    await queryRunner.query(
      `INSERT INTO "flow_cursors" ("flow_id", "lane", "lanes", "org_id", "sandbox_name", "last_tx_id", "last_change_id",
              "mapping", "backfill", "next_attempt_at", "failures", "last_error", "last_success_at", "created_at", "updated_at")
       SELECT c."flow_id", l.n, ${LANES}, c."org_id", c."sandbox_name", c."last_tx_id", c."last_change_id",
              c."mapping", c."backfill", c."next_attempt_at", c."failures", c."last_error", c."last_success_at", c."created_at", c."updated_at"
         FROM "flow_cursors" c CROSS JOIN generate_series(1, ${LANES - 1}) AS l(n)
        WHERE c."deleted_at" IS NULL AND c."lane" = 0`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    // Back to one cursor per flow, at its slowest lane's position (the
    // lanes ahead re-export under the same messageIds); a backfill restarts.
    await queryRunner.query(
      `UPDATE "flow_cursors" c SET "last_tx_id" = m."last_tx_id", "last_change_id" = m."last_change_id",
              "backfill" = CASE WHEN c."backfill" IS NULL THEN NULL
                                ELSE jsonb_set(c."backfill", '{afterProfileId}', 'null'::jsonb) END
         FROM (SELECT DISTINCT ON ("flow_id") "flow_id", "last_tx_id", "last_change_id" FROM "flow_cursors"
                ORDER BY "flow_id", "last_tx_id"::xid8, "last_change_id") m
        WHERE c."flow_id" = m."flow_id" AND c."lane" = 0`,
    );
    await queryRunner.query(`DELETE FROM "flow_cursors" WHERE "lane" <> 0`);
    await queryRunner.query(
      `ALTER TABLE "flow_cursors" DROP CONSTRAINT "pk_flow_cursors"`,
    );
    await queryRunner.query(
      `ALTER TABLE "flow_cursors" ADD CONSTRAINT "PK_69023d7f50c9029af3c1cae9bf6" PRIMARY KEY ("flow_id")`,
    );
    await queryRunner.query(`ALTER TABLE "flow_cursors" DROP COLUMN "lanes"`);
    await queryRunner.query(`ALTER TABLE "flow_cursors" DROP COLUMN "lane"`);
  }
}
