import { MigrationInterface, QueryRunner } from 'typeorm';

export class ProfilesSegments1764200000000 implements MigrationInterface {
  name = 'ProfilesSegments1764200000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "profile_identities" ("org_id" text NOT NULL, "sandbox_name" text NOT NULL, "namespace" text NOT NULL, "identity" text NOT NULL, "profile_id" uuid NOT NULL, CONSTRAINT "PK_1abe8d85b7c71c06d2f0eaa7c78" PRIMARY KEY ("org_id", "sandbox_name", "namespace", "identity"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_profile_identities_profile" ON "profile_identities"  ("profile_id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "profiles" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "org_id" text NOT NULL, "sandbox_name" text NOT NULL, "attributes" jsonb NOT NULL DEFAULT '{}', "identity_map" jsonb NOT NULL DEFAULT '{}', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_8e520eb4da7dc01d0e190447c8e" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_profiles_tenant_id" ON "profiles"  ("org_id", "sandbox_name", "id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "segment_definitions" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "org_id" text NOT NULL, "sandbox_name" text NOT NULL, "sandbox_id" uuid NOT NULL, "name" text NOT NULL, "description" text, "expression" jsonb NOT NULL, "evaluation_info" jsonb NOT NULL DEFAULT '{}', "schema_name" text NOT NULL, "profile_instance_id" text NOT NULL, "ttl_in_days" integer, "merge_policy_id" text, "payload_schema" text, "data_governance_policy" jsonb NOT NULL DEFAULT '{}', "time_relative" boolean NOT NULL, "expression_version" integer NOT NULL DEFAULT '1', "created_by" text NOT NULL, "updated_by" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_8157779f845c8b04b41e5b0b377" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_segment_definitions_tenant" ON "segment_definitions"  ("org_id", "sandbox_name", "created_at") `,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_segment_definitions_name" ON "segment_definitions"  ("org_id", "sandbox_name", "name") `,
    );
    await queryRunner.query(
      `CREATE TABLE "segment_jobs" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "org_id" text NOT NULL, "sandbox_name" text NOT NULL, "segment_id" uuid NOT NULL, "expression_version" integer NOT NULL, "kind" text NOT NULL, "status" text NOT NULL, "cursor" uuid, "processed_count" integer NOT NULL DEFAULT '0', "total_count" integer NOT NULL DEFAULT '0', "entered_count" integer NOT NULL DEFAULT '0', "exited_count" integer NOT NULL DEFAULT '0', "attempts" integer NOT NULL DEFAULT '0', "lease_owner" text, "lease_expires_at" TIMESTAMP WITH TIME ZONE, "error" text, "started_at" TIMESTAMP WITH TIME ZONE, "finished_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_e0a6c57875da41021de4012d019" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_segment_jobs_segment" ON "segment_jobs"  ("org_id", "sandbox_name", "segment_id") `,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_segment_jobs_claim" ON "segment_jobs"  ("status", "created_at") `,
    );
    await queryRunner.query(
      `CREATE TABLE "segment_memberships" ("profile_id" uuid NOT NULL, "segment_id" uuid NOT NULL, "org_id" text NOT NULL, "sandbox_name" text NOT NULL, "status" text NOT NULL, "last_qualification_time" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_5bd77f69a25bfa87e8220c05b58" PRIMARY KEY ("profile_id", "segment_id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_segment_memberships_exited" ON "segment_memberships"  ("status", "last_qualification_time") `,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_segment_memberships_segment" ON "segment_memberships"  ("org_id", "sandbox_name", "segment_id", "status") `,
    );
    // Hand-written: TypeORM has no xid8 column type, so profile_changes is
    // not an entity (the schema diff ignores tables without one). tx_id is
    // the writing transaction's id; readers only pass rows whose tx_id is
    // below the oldest running transaction (see ChangeLogReader).
    await queryRunner.query(
      `CREATE TABLE "profile_changes" ("id" bigserial NOT NULL, "tx_id" xid8 NOT NULL DEFAULT pg_current_xact_id(), "org_id" text NOT NULL, "sandbox_name" text NOT NULL, "profile_id" uuid NOT NULL, "changed_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "changed_paths" text array NOT NULL DEFAULT '{}', "identities_changed" boolean NOT NULL DEFAULT false, "membership_changes" jsonb NOT NULL DEFAULT '[]', "deleted" boolean NOT NULL DEFAULT false, "snapshot" jsonb, CONSTRAINT "pk_profile_changes" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_profile_changes_read" ON "profile_changes" ("org_id", "sandbox_name", "tx_id", "id")`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "profile_changes"`);
    await queryRunner.query(
      `DROP INDEX "public"."ix_segment_memberships_segment"`,
    );
    await queryRunner.query(
      `DROP INDEX "public"."ix_segment_memberships_exited"`,
    );
    await queryRunner.query(`DROP TABLE "segment_memberships"`);
    await queryRunner.query(`DROP INDEX "public"."ix_segment_jobs_claim"`);
    await queryRunner.query(`DROP INDEX "public"."ix_segment_jobs_segment"`);
    await queryRunner.query(`DROP TABLE "segment_jobs"`);
    await queryRunner.query(
      `DROP INDEX "public"."uq_segment_definitions_name"`,
    );
    await queryRunner.query(
      `DROP INDEX "public"."ix_segment_definitions_tenant"`,
    );
    await queryRunner.query(`DROP TABLE "segment_definitions"`);
    await queryRunner.query(`DROP INDEX "public"."ix_profiles_tenant_id"`);
    await queryRunner.query(`DROP TABLE "profiles"`);
    await queryRunner.query(
      `DROP INDEX "public"."ix_profile_identities_profile"`,
    );
    await queryRunner.query(`DROP TABLE "profile_identities"`);
  }
}
