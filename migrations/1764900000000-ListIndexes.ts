import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Lists are filtered and paged in PostgreSQL: a flow's runs
 * (`property=flowId==…`) and a tenant's failed runs in their default order
 * come from one index range each; flows by a mapped segment id
 * (`transformations[].params.segmentSelectors.selectors[].value.id`) from a
 * GIN index over the flow's lowercased segment ids, and flows by name
 * (`orderby=name`) in index order. The list queries must use the same
 * expressions (flows.service.ts, runs.service.ts, sql-listing.ts).
 */
export class ListIndexes1764900000000 implements MigrationInterface {
  name = 'ListIndexes1764900000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX "ix_runs_flow_created" ON "runs"  ("flow_id", "created_at") `,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_flows_segment_ids" ON "flows" USING gin ((lower(jsonb_path_query_array("transformations", 'lax $[*]."params"."segmentSelectors"."selectors"[*]."value"."id"')::text)::jsonb) jsonb_path_ops)`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_runs_failed" ON "runs" ("org_id", "sandbox_name", "created_at") WHERE ("metrics" #>> '{statusSummary,status}') = 'failed'`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_flows_name" ON "flows" ("org_id", "sandbox_name", (lower("name") COLLATE "C"), "id")`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."ix_flows_name"`);
    await queryRunner.query(`DROP INDEX "public"."ix_runs_failed"`);
    await queryRunner.query(`DROP INDEX "public"."ix_flows_segment_ids"`);
    await queryRunner.query(`DROP INDEX "public"."ix_runs_flow_created"`);
  }
}
