import type { DynamicModule, INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { AppModule } from '../app.module.js';
import { ClientEntity } from '../tenancy/client.entity.js';
import type { Env } from '../config/env.js';
import { resolveSecrets } from '../config/secrets.js';
import { openDatabase, type OpenedDatabase } from '../database/database.js';
import { buildDataSourceOptions, migrate } from '../data-source.js';
import { SandboxEntity } from '../tenancy/sandbox.entity.js';
import { TenancyService } from '../tenancy/tenancy.service.js';

export interface CliIo {
  /** Normal output (stdout). */
  out(text: string): void;
  /** Diagnostics and progress (stderr). */
  err(text: string): void;
}

export const processIo: CliIo = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

/**
 * What a CLI command may use. Everything is opened lazily on first use (so
 * `--help` needs no database) and closed once by `close()`:
 * - `dataSource()` for plain TypeORM work,
 * - `tenancy()` for clients and sandboxes,
 * - `app()` for commands that need the app's Nest services (profile import,
 *   apply): an application context without HTTP, runner or emulator.
 */
export class CliContext {
  private database?: Promise<OpenedDatabase>;
  private ds?: Promise<DataSource>;
  private nest?: Promise<INestApplicationContext>;

  constructor(
    readonly env: Env,
    readonly io: CliIo = processIo,
  ) {}

  /** Connection URL; starts (or joins) the embedded PostgreSQL when DATABASE_URL is unset. */
  async databaseUrl(): Promise<string> {
    this.database ??= openDatabase(this.env).then(async (db) => {
      await migrate(db.url);
      return db;
    });
    return (await this.database).url;
  }

  dataSource(): Promise<DataSource> {
    this.ds ??= this.databaseUrl().then((url) =>
      new DataSource(buildDataSourceOptions(url, 2)).initialize(),
    );
    return this.ds;
  }

  async tenancy(): Promise<TenancyService> {
    const ds = await this.dataSource();
    return new TenancyService(
      ds.getRepository(ClientEntity),
      ds.getRepository(SandboxEntity),
    );
  }

  /** The app's providers (no HTTP server); `imports` adds feature modules a command needs. */
  app(
    imports: DynamicModule['imports'] = [],
  ): Promise<INestApplicationContext> {
    this.nest ??= this.databaseUrl().then((databaseUrl) =>
      NestFactory.createApplicationContext(
        AppModule.forRoot({
          env: this.env,
          databaseUrl,
          secrets: resolveSecrets(this.env),
          imports,
        }),
        { logger: false },
      ),
    );
    return this.nest;
  }

  async close(): Promise<void> {
    const nest = this.nest;
    const ds = this.ds;
    const database = this.database;
    this.nest = this.ds = this.database = undefined;
    await (await nest?.catch(() => undefined))?.close();
    const source = await ds?.catch(() => undefined);
    if (source?.isInitialized) await source.destroy();
    await (await database?.catch(() => undefined))?.stop();
  }
}
