import { DataSource, type DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from '../migrations/index.js';
import { ENTITIES } from './entities.js';
import { SnakeNamingStrategy } from './database/snake-naming.strategy.js';

export function buildDataSourceOptions(
  url: string,
  poolSize = 10,
  /** See Env.DB_CONNECT_TIMEOUT_MS; 0 waits without limit. */
  connectTimeoutMs = 0,
): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    namingStrategy: new SnakeNamingStrategy(),
    synchronize: false,
    migrationsRun: false,
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    extra: { max: poolSize, connectionTimeoutMillis: connectTimeoutMs },
  };
}

/** Runs pending migrations under an advisory lock so replicas starting together do not race. */
export async function migrate(url: string): Promise<void> {
  const ds = new DataSource(buildDataSourceOptions(url, 1));
  await ds.initialize();
  try {
    await ds.query('SELECT pg_advisory_lock(727001)');
    await ds.runMigrations({ transaction: 'each' });
  } finally {
    await ds.query('SELECT pg_advisory_unlock(727001)').catch(() => undefined);
    await ds.destroy();
  }
}

/**
 * The one instance the TypeORM CLI uses (`migration:generate`, `migration:run`).
 * It reads DATABASE_URL directly because the CLI runs outside the app's config.
 */
export const AppDataSource = new DataSource(
  buildDataSourceOptions(
    // eslint-disable-next-line no-restricted-syntax -- CLI entry only
    process.env.DATABASE_URL ??
      'postgres://postgres:postgres@127.0.0.1:54329/postgres',
  ),
);
