import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Delivery operations: undelivered records (DeliveryRecordEntity) with the
 * indexes of their list, replay and retention; replay/resync jobs
 * (DeliveryJobEntity), one running per flow; what each target holds of a
 * profile's consent (ConsentStateEntity); and the runs replays and resyncs
 * create (`runs.op`, `runs.ended_at`).
 */
export class DeliveryOperations1765300000000 implements MigrationInterface {
  name = 'DeliveryOperations1765300000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "delivery_jobs" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "org_id" text NOT NULL, "sandbox_name" text NOT NULL, "flow_id" uuid NOT NULL, "op" text NOT NULL, "state" text NOT NULL, "run_id" uuid NOT NULL, "source_run_id" uuid, "after_profile_id" uuid, "after_record_id" uuid, "lane" integer NOT NULL DEFAULT 0, "lanes" integer NOT NULL DEFAULT 1, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_339ab885df7ac7a7ae87cea5b62" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_delivery_jobs_running" ON "delivery_jobs" ("flow_id", "lane") WHERE state = 'running'`,
    );
    await queryRunner.query(
      `CREATE TABLE "delivery_records" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "org_id" text NOT NULL, "sandbox_name" text NOT NULL, "flow_id" uuid NOT NULL, "run_id" uuid NOT NULL, "target_connection_id" uuid, "profile_id" uuid NOT NULL, "identity_map" jsonb NOT NULL, "trigger" text NOT NULL, "status" text NOT NULL, "reason_code" text NOT NULL, "message" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "replayed_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_b45e34cbecbf5c06be843fcd4fa" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_delivery_records_created" ON "delivery_records" ("created_at") `,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_delivery_records_open" ON "delivery_records" ("flow_id", "id") WHERE replayed_at IS NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_delivery_records_run" ON "delivery_records" ("run_id", "status", "created_at") `,
    );
    await queryRunner.query(
      `CREATE TABLE "consent_states" ("flow_id" uuid NOT NULL, "target_connection_id" uuid NOT NULL, "profile_id" uuid NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_9bb04d76812ef279fa515093b84" PRIMARY KEY ("flow_id", "target_connection_id", "profile_id"))`,
    );
    await queryRunner.query(`ALTER TABLE "runs" ADD "op" text`);
    await queryRunner.query(
      `ALTER TABLE "runs" ADD "ended_at" TIMESTAMP WITH TIME ZONE`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "runs" DROP COLUMN "ended_at"`);
    await queryRunner.query(`ALTER TABLE "runs" DROP COLUMN "op"`);
    await queryRunner.query(`DROP TABLE "consent_states"`);
    await queryRunner.query(`DROP INDEX "public"."ix_delivery_records_run"`);
    await queryRunner.query(`DROP INDEX "public"."ix_delivery_records_open"`);
    await queryRunner.query(
      `DROP INDEX "public"."ix_delivery_records_created"`,
    );
    await queryRunner.query(`DROP TABLE "delivery_records"`);
    await queryRunner.query(`DROP INDEX "public"."uq_delivery_jobs_running"`);
    await queryRunner.query(`DROP TABLE "delivery_jobs"`);
  }
}
