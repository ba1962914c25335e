import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * profile_identities loses its index by profile: only a profile delete used
 * it, and that now deletes by the keys of the profile's own identityMap
 * (the identities a profile owns are exactly those). Each new identity is
 * then one index insert instead of two.
 */
export class IdentityIndexByKeyOnly1764700000000 implements MigrationInterface {
  name = 'IdentityIndexByKeyOnly1764700000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `DROP INDEX "public"."ix_profile_identities_profile"`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX "ix_profile_identities_profile" ON "profile_identities" ("profile_id") `,
    );
  }
}
