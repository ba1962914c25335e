import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * ix_profiles_lane began with (org_id, sandbox_name) like
 * ix_profiles_tenant_id, so a lookup by id within a tenant could use it too,
 * skipping over the lane hash, and PostgreSQL did so whenever its statistics
 * showed the tenant as small (a fresh or fast-growing tenant, before
 * ANALYZE): reading all the tenant's entries for each id — 79 buffers and
 * 1.5 ms for 10 ids at 5,000 profiles, growing with the tenant, where the
 * primary key takes 30 buffers and 0.2 ms. Keyed by one tenant expression
 * instead, the index serves only the statements that name it (a lane's
 * backfill pages); lookups by id keep to the primary key and
 * ix_profiles_tenant_id. Rebuilding it reads the table once (1M profiles:
 * ~21 s, writes blocked meanwhile).
 */
export class ProfilesLaneKey1765490000000 implements MigrationInterface {
  name = 'ProfilesLaneKey1765490000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."ix_profiles_lane"`);
    await queryRunner.query(
      `CREATE INDEX "ix_profiles_lane" ON "profiles" (("org_id" || '/' || "sandbox_name"), fse_lane_hash("id"), "id")`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."ix_profiles_lane"`);
    await queryRunner.query(
      `CREATE INDEX "ix_profiles_lane" ON "profiles" ("org_id", "sandbox_name", fse_lane_hash("id"), "id")`,
    );
  }
}
