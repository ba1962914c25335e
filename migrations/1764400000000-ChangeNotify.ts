import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Wakes runners when change-log rows commit. NOTIFY is delivered at commit,
 * so it is a timely hint; the runner still polls the table as the source of truth.
 * One notification per statement keeps bulk ingestion cheap.
 */
export class ChangeNotify1764400000000 implements MigrationInterface {
  name = 'ChangeNotify1764400000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE FUNCTION fse_notify_profile_changes() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('fse_profile_changes', '');
        RETURN NULL;
      END $$`);
    await queryRunner.query(`
      CREATE TRIGGER trg_profile_changes_notify AFTER INSERT ON profile_changes
      FOR EACH STATEMENT EXECUTE FUNCTION fse_notify_profile_changes()`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `DROP TRIGGER trg_profile_changes_notify ON profile_changes`,
    );
    await queryRunner.query(`DROP FUNCTION fse_notify_profile_changes()`);
  }
}
