import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Tells every replica's auth cache (TenancyCache) that a client or sandbox
 * changed, whoever changed it (another replica, the CLI, psql). NOTIFY is
 * delivered at commit. The payloads are TenancyService's clientKey and
 * sandboxKey; `*` (a TRUNCATE) clears everything.
 */
export class TenancyNotify1765340000000 implements MigrationInterface {
  name = 'TenancyNotify1765340000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE FUNCTION fse_notify_tenancy() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'TRUNCATE' THEN
          PERFORM pg_notify('fse_tenancy', '*');
          RETURN NULL;
        END IF;
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
          IF TG_TABLE_NAME = 'clients' THEN
            PERFORM pg_notify('fse_tenancy', 'client:' || OLD.client_id);
          ELSE
            PERFORM pg_notify('fse_tenancy', 'sandbox:' || OLD.org_id || '/' || OLD.name);
          END IF;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
          IF TG_TABLE_NAME = 'clients' THEN
            PERFORM pg_notify('fse_tenancy', 'client:' || NEW.client_id);
          ELSE
            PERFORM pg_notify('fse_tenancy', 'sandbox:' || NEW.org_id || '/' || NEW.name);
          END IF;
        END IF;
        RETURN NULL;
      END $$`);
    for (const table of ['clients', 'sandboxes']) {
      await queryRunner.query(`
        CREATE TRIGGER trg_${table}_notify AFTER INSERT OR UPDATE OR DELETE ON ${table}
        FOR EACH ROW EXECUTE FUNCTION fse_notify_tenancy()`);
      await queryRunner.query(`
        CREATE TRIGGER trg_${table}_notify_truncate AFTER TRUNCATE ON ${table}
        FOR EACH STATEMENT EXECUTE FUNCTION fse_notify_tenancy()`);
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['clients', 'sandboxes']) {
      await queryRunner.query(
        `DROP TRIGGER trg_${table}_notify_truncate ON ${table}`,
      );
      await queryRunner.query(`DROP TRIGGER trg_${table}_notify ON ${table}`);
    }
    await queryRunner.query(`DROP FUNCTION fse_notify_tenancy()`);
  }
}
