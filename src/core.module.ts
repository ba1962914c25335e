import { type DynamicModule, Global, Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { SecretBox } from './common/secret-box.js';
import { ENV, type Env } from './config/env.js';
import { APP_SECRETS, type AppSecrets } from './config/secrets.js';
import { Draining } from './lifecycle/draining.js';
import { APP_LOGGER } from './logging/logger.js';

export interface CoreValues {
  env: Env;
  secrets: AppSecrets;
  logger: Logger;
}

/**
 * Process-wide values every area may read: the validated environment, the
 * secrets, the logger, the box that seals secrets with them, and whether the
 * process is shutting down. The only
 * global module: anything with behaviour of its own belongs to an area's
 * module and is imported where it is used.
 */
@Global()
@Module({})
export class CoreModule {
  static forRoot(values: CoreValues): DynamicModule {
    return {
      module: CoreModule,
      providers: [
        { provide: ENV, useValue: values.env },
        { provide: APP_SECRETS, useValue: values.secrets },
        { provide: APP_LOGGER, useValue: values.logger },
        SecretBox,
        Draining,
      ],
      exports: [ENV, APP_SECRETS, APP_LOGGER, SecretBox, Draining],
    };
  }
}
