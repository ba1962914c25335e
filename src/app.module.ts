import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { ClientEntity } from './auth/client.entity.js';
import { PlatformAuthGuard } from './auth/platform-auth.guard.js';
import { PlatformAuthenticator } from './auth/platform-authenticator.js';
import { TokenController } from './auth/token.controller.js';
import { TokenService } from './auth/token.service.js';
import { CatalogController } from './catalog/catalog.controller.js';
import { CatalogService } from './catalog/catalog.service.js';
import { HttpExceptionFilter } from './common/http-exception.filter.js';
import { SecretBox } from './common/secret-box.js';
import { createValidationPipe } from './common/validation.js';
import { ENV, type Env } from './config/env.js';
import { APP_SECRETS, type AppSecrets } from './config/secrets.js';
import { ConnectionEntity } from './connections/connection.entity.js';
import { ConnectionsController } from './connections/connections.controller.js';
import { ConnectionsService } from './connections/connections.service.js';
import { buildDataSourceOptions } from './database/data-source.js';
import { ENTITIES } from './database/entities.js';
import { EventHubsProbe } from './event-hubs/event-hubs-probe.js';
import { FlowEntity } from './flows/flow.entity.js';
import { FlowsController } from './flows/flows.controller.js';
import { FlowsService } from './flows/flows.service.js';
import { HealthController } from './health/health.controller.js';
import { APP_LOGGER, createLogger } from './logging/logger.js';
import { LimitsModule } from './limits/limits.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { ProfilesModule } from './profiles/profiles.module.js';
import { RunEntity } from './runs/run.entity.js';
import { RunsController } from './runs/runs.controller.js';
import { RunsService } from './runs/runs.service.js';
import { SegmentsModule } from './segments/segments.module.js';
import { SourceConnectionEntity } from './source-connections/source-connection.entity.js';
import { SourceConnectionsController } from './source-connections/source-connections.controller.js';
import { SourceConnectionsService } from './source-connections/source-connections.service.js';
import { TargetConnectionEntity } from './target-connections/target-connection.entity.js';
import { TargetConnectionsController } from './target-connections/target-connections.controller.js';
import { TargetConnectionsService } from './target-connections/target-connections.service.js';
import { SandboxEntity } from './tenancy/sandbox.entity.js';
import { TenancyService } from './tenancy/tenancy.service.js';

export interface AppModuleOptions {
  env: Env;
  databaseUrl: string;
  secrets: AppSecrets;
  /** Extra modules (emulator, runner) the entry point decides to load. */
  imports?: DynamicModule['imports'];
  /** The process's pino logger; by default one at env.LOG_LEVEL on stdout. */
  logger?: Logger;
}

@Module({})
export class AppModule {
  static forRoot(options: AppModuleOptions): DynamicModule {
    return {
      module: AppModule,
      global: true,
      imports: [
        TypeOrmModule.forRoot({
          ...buildDataSourceOptions(
            options.databaseUrl,
            options.env.DB_POOL_SIZE,
          ),
          entities: ENTITIES,
        }),
        TypeOrmModule.forFeature([
          ClientEntity,
          SandboxEntity,
          ConnectionEntity,
          SourceConnectionEntity,
          TargetConnectionEntity,
          FlowEntity,
          RunEntity,
        ]),
        MetricsModule,
        LimitsModule,
        ProfilesModule,
        SegmentsModule,
        ...(options.imports ?? []),
      ],
      controllers: [
        TokenController,
        CatalogController,
        ConnectionsController,
        SourceConnectionsController,
        TargetConnectionsController,
        FlowsController,
        RunsController,
        HealthController,
      ],
      providers: [
        { provide: ENV, useValue: options.env },
        { provide: APP_SECRETS, useValue: options.secrets },
        {
          provide: APP_LOGGER,
          useValue: options.logger ?? createLogger(options.env.LOG_LEVEL),
        },
        { provide: APP_PIPE, useFactory: createValidationPipe },
        { provide: APP_FILTER, useClass: HttpExceptionFilter },
        TokenService,
        PlatformAuthenticator,
        PlatformAuthGuard,
        TenancyService,
        SecretBox,
        EventHubsProbe,
        CatalogService,
        ConnectionsService,
        SourceConnectionsService,
        TargetConnectionsService,
        FlowsService,
        RunsService,
      ],
      exports: [
        ENV,
        APP_SECRETS,
        APP_LOGGER,
        // Feature modules (profiles, segments) guard their controllers with PlatformApi().
        TokenService,
        PlatformAuthenticator,
        PlatformAuthGuard,
        TenancyService,
        SecretBox,
        ConnectionsService,
        TypeOrmModule,
      ],
    };
  }
}
