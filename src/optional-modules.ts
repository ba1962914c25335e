import type { DynamicModule } from '@nestjs/common';
import type { Env } from './config/env.js';

/** Modules that depend on configuration (emulator, runner); filled in as they land. */
export function optionalModules(_env: Env): Promise<DynamicModule[]> {
  return Promise.resolve([]);
}

export function describeOptionalModules(_env: Env): string[] {
  return [];
}
