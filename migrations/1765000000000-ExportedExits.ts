import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Exits every flow has exported (see ExportedExitEntity): the exited-
 * membership purge reads only these, so it never removes an exit a flow still
 * owes and its cost follows what is due. Exits stored before, whose change
 * rows are gone (every flow passed them), are queued now; those of a profile
 * with change rows still in the log wait for a later exit of theirs.
 */
export class ExportedExits1765000000000 implements MigrationInterface {
  name = 'ExportedExits1765000000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "exported_exits" ("org_id" text NOT NULL, "sandbox_name" text NOT NULL, "profile_id" uuid NOT NULL, "segment_id" text NOT NULL, "exited_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_0a36e2a0c1912badc2eaeb1bd59" PRIMARY KEY ("org_id", "sandbox_name", "profile_id", "segment_id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_exported_exits_due" ON "exported_exits" ("exited_at") `,
    );
    await queryRunner.query(
      `INSERT INTO "exported_exits" (org_id, sandbox_name, profile_id, segment_id, exited_at)
       SELECT p.org_id, p.sandbox_name, p.id, e.key, (e.value->>1)::timestamptz
         FROM profiles p CROSS JOIN LATERAL jsonb_each(p.memberships) e
        WHERE e.value->>0 = 'exited'
          AND p.id NOT IN (SELECT DISTINCT profile_id FROM profile_changes)`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."ix_exported_exits_due"`);
    await queryRunner.query(`DROP TABLE "exported_exits"`);
  }
}
