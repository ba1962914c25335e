import { MigrationInterface, QueryRunner } from 'typeorm';

export class Foundation1764100000000 implements MigrationInterface {
  name = 'Foundation1764100000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "clients" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "client_id" text NOT NULL, "secret_hash" text NOT NULL, "org_id" text NOT NULL, "name" text NOT NULL, "sandboxes" text array NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_f1ab7cf3a5714dbc6bb4e1c28a4" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_clients_client_id" ON "clients"  ("client_id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "connections" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "org_id" text NOT NULL, "sandbox_name" text NOT NULL, "sandbox_id" uuid NOT NULL, "name" text NOT NULL, "description" text, "state" text NOT NULL, "version" uuid NOT NULL, "created_by" text NOT NULL, "updated_by" text NOT NULL, "created_client" text NOT NULL, "updated_client" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "connection_spec_id" uuid NOT NULL, "connection_spec_version" text NOT NULL, "auth_spec_name" text, "auth_params" jsonb NOT NULL DEFAULT '{}', "auth_secrets" text, CONSTRAINT "PK_0a1f844af3122354cbd487a8d03" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_connections_tenant" ON "connections"  ("org_id", "sandbox_name", "created_at") `,
    );
    await queryRunner.query(
      `CREATE TABLE "flows" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "org_id" text NOT NULL, "sandbox_name" text NOT NULL, "sandbox_id" uuid NOT NULL, "name" text NOT NULL, "description" text, "state" text NOT NULL, "version" uuid NOT NULL, "created_by" text NOT NULL, "updated_by" text NOT NULL, "created_client" text NOT NULL, "updated_client" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "flow_spec_id" uuid NOT NULL, "flow_spec_version" text NOT NULL, "source_connection_ids" uuid array NOT NULL, "target_connection_ids" uuid array NOT NULL, "transformations" jsonb NOT NULL DEFAULT '[]', "last_operation" jsonb NOT NULL DEFAULT '{}', CONSTRAINT "PK_c346955f4318ef565e6928462fe" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_flows_tenant" ON "flows"  ("org_id", "sandbox_name", "created_at") `,
    );
    await queryRunner.query(
      `CREATE TABLE "runs" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "org_id" text NOT NULL, "sandbox_name" text NOT NULL, "sandbox_id" uuid NOT NULL, "flow_id" uuid NOT NULL, "flow_spec_id" uuid NOT NULL, "hour_start" TIMESTAMP WITH TIME ZONE NOT NULL, "version" uuid NOT NULL, "metrics" jsonb NOT NULL DEFAULT '{}', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_46d6a1e257c38ba58f1a3c30836" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_runs_tenant" ON "runs"  ("org_id", "sandbox_name", "created_at") `,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_runs_flow_hour" ON "runs"  ("flow_id", "hour_start") `,
    );
    await queryRunner.query(
      `CREATE TABLE "source_connections" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "org_id" text NOT NULL, "sandbox_name" text NOT NULL, "sandbox_id" uuid NOT NULL, "name" text NOT NULL, "description" text, "state" text NOT NULL, "version" uuid NOT NULL, "created_by" text NOT NULL, "updated_by" text NOT NULL, "created_client" text NOT NULL, "updated_client" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "base_connection_id" uuid, "connection_spec_id" uuid NOT NULL, "connection_spec_version" text NOT NULL, "data" jsonb NOT NULL DEFAULT '{}', "params" jsonb NOT NULL DEFAULT '{}', CONSTRAINT "PK_80b8f2ab49dba30adcc6db29ac0" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_source_connections_base" ON "source_connections"  ("base_connection_id") `,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_source_connections_tenant" ON "source_connections"  ("org_id", "sandbox_name", "created_at") `,
    );
    await queryRunner.query(
      `CREATE TABLE "target_connections" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "org_id" text NOT NULL, "sandbox_name" text NOT NULL, "sandbox_id" uuid NOT NULL, "name" text NOT NULL, "description" text, "state" text NOT NULL, "version" uuid NOT NULL, "created_by" text NOT NULL, "updated_by" text NOT NULL, "created_client" text NOT NULL, "updated_client" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "base_connection_id" uuid, "connection_spec_id" uuid NOT NULL, "connection_spec_version" text NOT NULL, "data" jsonb NOT NULL DEFAULT '{}', "params" jsonb NOT NULL DEFAULT '{}', CONSTRAINT "PK_45a891f1c39387c916534c36ce3" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_target_connections_base" ON "target_connections"  ("base_connection_id") `,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_target_connections_tenant" ON "target_connections"  ("org_id", "sandbox_name", "created_at") `,
    );
    await queryRunner.query(
      `CREATE TABLE "sandboxes" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "org_id" text NOT NULL, "name" text NOT NULL, "type" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_460f16cb8e40f3832bb990c74f2" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_sandboxes_org_name" ON "sandboxes"  ("org_id", "name") `,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."uq_sandboxes_org_name"`);
    await queryRunner.query(`DROP TABLE "sandboxes"`);
    await queryRunner.query(
      `DROP INDEX "public"."ix_target_connections_tenant"`,
    );
    await queryRunner.query(`DROP INDEX "public"."ix_target_connections_base"`);
    await queryRunner.query(`DROP TABLE "target_connections"`);
    await queryRunner.query(
      `DROP INDEX "public"."ix_source_connections_tenant"`,
    );
    await queryRunner.query(`DROP INDEX "public"."ix_source_connections_base"`);
    await queryRunner.query(`DROP TABLE "source_connections"`);
    await queryRunner.query(`DROP INDEX "public"."uq_runs_flow_hour"`);
    await queryRunner.query(`DROP INDEX "public"."ix_runs_tenant"`);
    await queryRunner.query(`DROP TABLE "runs"`);
    await queryRunner.query(`DROP INDEX "public"."ix_flows_tenant"`);
    await queryRunner.query(`DROP TABLE "flows"`);
    await queryRunner.query(`DROP INDEX "public"."ix_connections_tenant"`);
    await queryRunner.query(`DROP TABLE "connections"`);
    await queryRunner.query(`DROP INDEX "public"."uq_clients_client_id"`);
    await queryRunner.query(`DROP TABLE "clients"`);
  }
}
