import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * fse_check(ok, message): true, or an error with SQLSTATE FSE01. A step's
 * commit moves the lane's position and adds to the hour's run in one
 * statement when it knows the run's version; if another lane wrote the run
 * first, the check fails the statement, so the position does not move
 * without the run (the runner reads the run again and retries).
 */
export class StepCommitCheck1765500000000 implements MigrationInterface {
  name = 'StepCommitCheck1765500000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE FUNCTION fse_check(ok boolean, message text) RETURNS boolean LANGUAGE plpgsql AS $$
      BEGIN
        IF NOT ok THEN
          RAISE EXCEPTION '%', message USING ERRCODE = 'FSE01';
        END IF;
        RETURN true;
      END $$`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION fse_check(boolean, text)`);
  }
}
