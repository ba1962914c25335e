import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Lists are filtered in PostgreSQL: a flow's runs (`property=flowId==…`) in
 * their default order come from one index range, and flows by a mapped
 * segment id (`transformations[].params.segmentSelectors.selectors[].value.id`)
 * from a GIN index over the flow's lowercased segment ids. The list query
 * must use the same expression (FLOW_SEGMENT_IDS_SQL in flows.service.ts).
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
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."ix_flows_segment_ids"`);
    await queryRunner.query(`DROP INDEX "public"."ix_runs_flow_created"`);
  }
}
