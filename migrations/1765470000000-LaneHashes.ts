import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Lanes read only their own rows (profile-store/lanes.ts):
 *
 * - `fse_lane_hash(uuid)`: the lane hash in SQL (the first 16 bits of
 *   SHA-256 over the id's text, as `laneHash` computes it in TypeScript),
 *   IMMUTABLE so it can feed a generated column and an index.
 * - `profile_changes.lane_hash`, a stored generated column: computed once per
 *   appended row, whatever writes it. `ix_profile_changes_lane` orders the
 *   log by hash bucket (the top 8 bits) then position, so "has this lane a
 *   change after its position" is one index descent per bucket of the lane
 *   (a skip scan), whatever the other lanes have pending;
 *   `ix_profile_changes_read` gains the hash as its last key, so a lane's
 *   ordered read skips other lanes' rows in the index, without visiting them.
 * - `ix_profiles_lane` on (tenant, fse_lane_hash(id), id): a backfill page
 *   of a lane is a range scan of that lane's profiles only, in (hash, id)
 *   order. Backfills under way restart their pages in that order (pages sent
 *   again keep their messageIds).
 *
 * Adding the column rewrites `profile_changes` under an exclusive lock (the
 * log is short-lived: CHANGE_LOG_RETENTION_HOURS); the two new indexes are
 * built once.
 */
export class LaneHashes1765470000000 implements MigrationInterface {
  name = 'LaneHashes1765470000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    // The uuid's text is ASCII, so its bytes are its UTF-8 encoding; the
    // text → bytea coercion keeps the body immutable (convert_to is only
    // stable), which lets PostgreSQL inline it.
    await queryRunner.query(
      `CREATE FUNCTION fse_lane_hash(id uuid) RETURNS integer
         LANGUAGE sql IMMUTABLE PARALLEL SAFE
         AS $$ SELECT ('x' || encode(substring(sha256(id::text::bytea) for 2), 'hex'))::bit(16)::int $$`,
    );
    await queryRunner.query(
      `ALTER TABLE "profile_changes" ADD "lane_hash" integer NOT NULL
         GENERATED ALWAYS AS (fse_lane_hash("profile_id")) STORED`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_profile_changes_lane" ON "profile_changes"
         ("org_id", "sandbox_name", ("lane_hash" >> 8), "tx_id", "id", "lane_hash")`,
    );
    await queryRunner.query(`DROP INDEX "public"."ix_profile_changes_read"`);
    await queryRunner.query(
      `CREATE INDEX "ix_profile_changes_read" ON "profile_changes" ("org_id", "sandbox_name", "tx_id", "id", "lane_hash")`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_profiles_lane" ON "profiles" ("org_id", "sandbox_name", fse_lane_hash("id"), "id")`,
    );
    await queryRunner.query(
      `UPDATE "flow_cursors" SET "backfill" = jsonb_set("backfill", '{afterProfileId}', 'null'::jsonb)
        WHERE "backfill" IS NOT NULL AND "backfill"->>'afterProfileId' IS NOT NULL`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `UPDATE "flow_cursors" SET "backfill" = jsonb_set("backfill", '{afterProfileId}', 'null'::jsonb)
        WHERE "backfill" IS NOT NULL AND "backfill"->>'afterProfileId' IS NOT NULL`,
    );
    await queryRunner.query(`DROP INDEX "public"."ix_profiles_lane"`);
    await queryRunner.query(`DROP INDEX "public"."ix_profile_changes_read"`);
    await queryRunner.query(
      `CREATE INDEX "ix_profile_changes_read" ON "profile_changes" ("org_id", "sandbox_name", "tx_id", "id")`,
    );
    await queryRunner.query(`DROP INDEX "public"."ix_profile_changes_lane"`);
    await queryRunner.query(
      `ALTER TABLE "profile_changes" DROP COLUMN "lane_hash"`,
    );
    await queryRunner.query(`DROP FUNCTION fse_lane_hash(uuid)`);
  }
}
