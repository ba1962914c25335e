import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { AuthModule } from './auth/auth.module.js';
import { CatalogModule } from './catalog/catalog.module.js';
import { HttpExceptionFilter } from './common/http-exception.filter.js';
import { createValidationPipe } from './common/validation.js';
import type { Env } from './config/env.js';
import type { AppSecrets } from './config/secrets.js';
import { ConnectionsModule } from './connections/connections.module.js';
import { CoreModule } from './core.module.js';
import { DeliveryModule } from './delivery/delivery.module.js';
import { buildDataSourceOptions } from './data-source.js';
import { ENTITIES } from './entities.js';
import { FlowMetricsModule } from './flow-metrics/flow-metrics.module.js';
import { FlowsModule } from './flows/flows.module.js';
import { HealthModule } from './health/health.module.js';
import { IdempotencyModule } from './idempotency/idempotency.module.js';
import { LimitsModule } from './limits/limits.module.js';
import { createLogger } from './logging/logger.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { ProfilesModule } from './profiles/profiles.module.js';
import { RecordsModule } from './records/records.module.js';
import { RunsModule } from './runs/runs.module.js';
import { SegmentsModule } from './segments/segments.module.js';
import { SourceConnectionsModule } from './source-connections/source-connections.module.js';
import { TargetConnectionsModule } from './target-connections/target-connections.module.js';

export interface AppModuleOptions {
  env: Env;
  databaseUrl: string;
  secrets: AppSecrets;
  /** Extra modules (emulator, runner) the entry point decides to load. */
  imports?: DynamicModule['imports'];
  /** The process's pino logger; by default one at env.LOG_LEVEL on stdout. */
  logger?: Logger;
}

/**
 * Composes the areas' modules; each imports what it uses. Only the pipe and
 * the error filter are registered here, so every app (tests too) gets them.
 */
@Module({})
export class AppModule {
  static forRoot(options: AppModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot({
          env: options.env,
          secrets: options.secrets,
          logger: options.logger ?? createLogger(options.env.LOG_LEVEL),
        }),
        TypeOrmModule.forRoot({
          ...buildDataSourceOptions(
            options.databaseUrl,
            options.env.DB_POOL_SIZE,
            options.env.DB_CONNECT_TIMEOUT_MS,
          ),
          entities: ENTITIES,
        }),
        MetricsModule,
        LimitsModule,
        IdempotencyModule,
        AuthModule,
        CatalogModule,
        ConnectionsModule,
        SourceConnectionsModule,
        TargetConnectionsModule,
        FlowsModule,
        FlowMetricsModule,
        RunsModule,
        RecordsModule,
        DeliveryModule,
        HealthModule,
        ProfilesModule,
        SegmentsModule,
        ...(options.imports ?? []),
      ],
      providers: [
        { provide: APP_PIPE, useFactory: createValidationPipe },
        { provide: APP_FILTER, useClass: HttpExceptionFilter },
      ],
    };
  }
}
