import { MigrationInterface, QueryRunner } from 'typeorm';

export class RunnerCursors1764300000000 implements MigrationInterface {
  name = 'RunnerCursors1764300000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "flow_cursors" ("flow_id" uuid NOT NULL, "org_id" text NOT NULL, "sandbox_name" text NOT NULL, "last_tx_id" text NOT NULL, "last_change_id" bigint NOT NULL, "mapping" jsonb NOT NULL, "backfill" jsonb, "lease_owner" text, "lease_until" TIMESTAMP WITH TIME ZONE, "next_attempt_at" TIMESTAMP WITH TIME ZONE NOT NULL, "failures" integer NOT NULL DEFAULT '0', "last_error" text, "last_success_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_69023d7f50c9029af3c1cae9bf6" PRIMARY KEY ("flow_id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_flow_cursors_due" ON "flow_cursors"  ("next_attempt_at") `,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."ix_flow_cursors_due"`);
    await queryRunner.query(`DROP TABLE "flow_cursors"`);
  }
}
