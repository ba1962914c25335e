import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { buildDataSourceOptions } from '../src/data-source.js';

describe('migrations', () => {
  let ds: DataSource;
  beforeAll(async () => {
    ds = new DataSource(buildDataSourceOptions(inject('databaseUrl'), 1));
    await ds.initialize();
  });
  afterAll(async () => ds.destroy());

  it('match the entities exactly (no drift between code and committed migrations)', async () => {
    const sql = await ds.driver.createSchemaBuilder().log();
    expect(sql.upQueries.map((q) => q.query)).toEqual([]);
  });

  it('are all applied', async () => {
    expect(await ds.showMigrations()).toBe(false);
  });
});
