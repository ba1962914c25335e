import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-minute export counts of flows (FlowExportMinuteEntity), summed over
 * replicas; the index on the minute drives the bounded retention delete.
 */
export class FlowExportMinutes1765450000000 implements MigrationInterface {
  name = 'FlowExportMinutes1765450000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "flow_export_minutes" ("flow_id" uuid NOT NULL, "minute" TIMESTAMP WITH TIME ZONE NOT NULL, "exports" integer NOT NULL DEFAULT '0', "failures" integer NOT NULL DEFAULT '0', CONSTRAINT "PK_flow_export_minutes" PRIMARY KEY ("flow_id", "minute"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_flow_export_minutes_minute" ON "flow_export_minutes" ("minute") `,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `DROP INDEX "public"."ix_flow_export_minutes_minute"`,
    );
    await queryRunner.query(`DROP TABLE "flow_export_minutes"`);
  }
}
