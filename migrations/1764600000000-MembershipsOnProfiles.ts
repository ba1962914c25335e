import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A profile's segment memberships move into one jsonb column of its row,
 * `{"<segmentId>": ["<status>", "<lastQualificationTime ISO>"]}`, instead of
 * one `segment_memberships` row (and three index entries) per profile and
 * segment: ingestion wrote ~10 membership rows per new profile, half of its
 * database time. The change log's `changed_paths` becomes jsonb: it is
 * written from and read into JSON, and the text[] cost a sub-select per row.
 * Its `membership_changes` entries become `[segmentId, from, to]` arrays
 * instead of objects (a third smaller; a new profile's row holds ~10).
 */
export class MembershipsOnProfiles1764600000000 implements MigrationInterface {
  name = 'MembershipsOnProfiles1764600000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "profiles" ADD "memberships" jsonb NOT NULL DEFAULT '{}'`,
    );
    await queryRunner.query(
      `UPDATE profiles p SET memberships = m.agg
         FROM (SELECT profile_id, jsonb_object_agg(segment_id::text, jsonb_build_array(
                        status,
                        to_char(last_qualification_time AT TIME ZONE 'UTC',
                                'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))) AS agg
                 FROM segment_memberships GROUP BY profile_id) m
        WHERE p.id = m.profile_id`,
    );
    await queryRunner.query(`DROP TABLE "segment_memberships"`);
    await queryRunner.query(
      `ALTER TABLE "profile_changes" ALTER COLUMN "changed_paths" DROP DEFAULT`,
    );
    await queryRunner.query(
      `ALTER TABLE "profile_changes" ALTER COLUMN "changed_paths" TYPE jsonb USING to_jsonb("changed_paths")`,
    );
    await queryRunner.query(
      `ALTER TABLE "profile_changes" ALTER COLUMN "changed_paths" SET DEFAULT '[]'`,
    );
    await queryRunner.query(
      `UPDATE profile_changes SET membership_changes = (
         SELECT jsonb_agg(jsonb_build_array(e->'segmentId', e->'from', e->'to') ORDER BY o)
           FROM jsonb_array_elements(membership_changes) WITH ORDINALITY AS x(e, o))
        WHERE jsonb_array_length(membership_changes) > 0`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `UPDATE profile_changes SET membership_changes = (
         SELECT jsonb_agg(jsonb_build_object('segmentId', e->0, 'from', e->1, 'to', e->2) ORDER BY o)
           FROM jsonb_array_elements(membership_changes) WITH ORDINALITY AS x(e, o))
        WHERE jsonb_array_length(membership_changes) > 0`,
    );
    // ALTER … TYPE cannot take a sub-select: a new column, filled, renamed.
    await queryRunner.query(
      `ALTER TABLE "profile_changes" ADD "changed_paths_text" text array NOT NULL DEFAULT '{}'`,
    );
    await queryRunner.query(
      `UPDATE profile_changes
          SET changed_paths_text = ARRAY(SELECT jsonb_array_elements_text(changed_paths))
        WHERE jsonb_array_length(changed_paths) > 0`,
    );
    await queryRunner.query(
      `ALTER TABLE "profile_changes" DROP COLUMN "changed_paths"`,
    );
    await queryRunner.query(
      `ALTER TABLE "profile_changes" RENAME COLUMN "changed_paths_text" TO "changed_paths"`,
    );
    await queryRunner.query(
      `CREATE TABLE "segment_memberships" ("profile_id" uuid NOT NULL, "segment_id" uuid NOT NULL, "org_id" text NOT NULL, "sandbox_name" text NOT NULL, "status" text NOT NULL, "last_qualification_time" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_5bd77f69a25bfa87e8220c05b58" PRIMARY KEY ("profile_id", "segment_id"))`,
    );
    await queryRunner.query(
      `INSERT INTO segment_memberships (profile_id, segment_id, org_id, sandbox_name, status, last_qualification_time)
       SELECT p.id, e.key::uuid, p.org_id, p.sandbox_name, e.value->>0, (e.value->>1)::timestamptz
         FROM profiles p CROSS JOIN LATERAL jsonb_each(p.memberships) e`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_segment_memberships_exited" ON "segment_memberships" ("last_qualification_time") WHERE "status" = 'exited'`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_segment_memberships_segment" ON "segment_memberships" ("segment_id", "status", "profile_id") `,
    );
    await queryRunner.query(`ALTER TABLE "profiles" DROP COLUMN "memberships"`);
  }
}
